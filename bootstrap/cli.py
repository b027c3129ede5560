"""`unessential bootstrap`: a minimal root filesystem or image from a signed archive."""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import click

from archive.publish.publisher import archive_root
from archive.publish_settings import PublishSettings, PublishTarget
from archive.settings import UpstreamSettings
from archive.upstream.mirror import Upstream
from base.console import Reporter, print_json
from base.context import AppContext, pass_app
from base.errors import InstallError, ResolveFailed, StorageError
from bootstrap.apply import ActionFailed
from bootstrap.installer import (
    Installed,
    Request,
    install,
    parse_user,
    resolve_request,
    upstream_settings,
)
from bootstrap.model import ImageConfig
from bootstrap.output import FORMATS, check_target, guess_format, work_dir, write_output
from bootstrap.paths import FilterError
from bootstrap.resolver import ResolveError, why
from bootstrap.settings import BootstrapSettings

OCI_VARIANT = {"arm64": "v8", "armhf": "v7", "armel": "v5"}
OCI_ARCH = {"amd64": "amd64", "arm64": "arm64", "armhf": "arm", "i386": "386",
            "ppc64el": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def source_date_epoch() -> int | None:
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise InstallError("SOURCE_DATE_EPOCH", f"expected seconds since the epoch, got {value!r}")
    return int(value)


@click.command("bootstrap")
@click.argument("packages", nargs=-1, required=True)
@click.option("--archive", "archive", help="Published archive: a directory or an http(s) URL "
              "(default: this host's publish root).")
@click.option("--suite", help="Suite of the archive (default: publish.suite).")
@click.option("--keyring", type=click.Path(path_type=Path, dir_okay=False),
              help="Key the archive is signed with (default: <archive>/archive-keyring.asc; "
              "required for a URL).")
@click.option("--arch", help="Architecture (default: the host's).")
@click.option("--platform", metavar="linux/ARCH[,...]",
              help="Platforms of an OCI image, e.g. linux/amd64,linux/arm64: one manifest "
              "per platform in an image index, an SBOM per platform (<output>.ARCH.spdx.json).")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Where to write the image.")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="dir, tar, oci (OCI layout in a tar) or docker (docker-archive); default "
              "from the output name (.oci.tar, .docker.tar, .tar, else a directory).")
@click.option("--sbom", "sboms", multiple=True, metavar="spdx,cyclonedx",
              help="Write SBOMs beside the output (<output>.spdx.json / .cdx.json): spdx, "
              "cyclonedx, or both (comma-separated or repeated).")
@click.option("--why", "why_name", metavar="PACKAGE",
              help="Print the chain of relations that pulls PACKAGE in, and stop.")
@click.option("--user", help="Create a non-root account NAME[:UID] and run the image as it.")
@click.option("--entrypoint", help="Image entrypoint, e.g. /usr/bin/python3 (JSON list too).")
@click.option("--cmd", help="Image command (JSON list or one word).")
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help="Image environment.")
@click.option("--workdir", default="", help="Image working directory.")
@click.option("--tag", default="latest", show_default=True, help="Image tag.")
@click.option("--name", "image_name", default="", help="Image name (default: the packages).")
@click.option("--with-recommends", is_flag=True, help="Install Recommends too.")
@click.option("--exclude-docs", is_flag=True,
              help="Leave out manual pages, Info manuals, /usr/share/doc but the copyright "
              "files, and message catalogs (dpkg path filters; bootstrap.exclude_docs).")
@click.option("--exclude-charsets", is_flag=True,
              help="Leave out glibc's iconv modules (/usr/lib/*/gconv: charsets beyond "
              "UTF-8, ASCII, Latin-1, UTF-16/32; bootstrap.exclude_charsets).")
@click.option("--compression", type=click.Choice(["gzip", "zstd"]),
              help="Layer compression of an OCI image: gzip (every reader; default, "
              "bootstrap.compression) or zstd (smaller; containerd, podman, skopeo).")
@click.option("--path-filter", "path_filters", multiple=True, metavar="RULE",
              help="A dpkg path filter, path-exclude=GLOB or path-include=GLOB (as "
              "mmdebstrap's --dpkgopt takes it); repeatable, applied in order after "
              "--exclude-docs and bootstrap.path_filters, the last match deciding.")
@click.option("--no-base", is_flag=True,
              help="Do not add bootstrap.base (base-files: /etc/os-release) to the image.")
@click.option("--no-merged-usr", is_flag=True, help="Keep /bin, /lib, ... as directories.")
@click.option("--allow-devices", is_flag=True, help="Accept device nodes in packages.")
@click.option("--strict", is_flag=True,
              help="Fail when a package has install scripts that were not run.")
@click.option("--force", is_flag=True, help="Replace an existing output.")
@click.option("--no-record", is_flag=True,
              help="Do not record the image in the catalog (for audit and report).")
@click.option("--compare-upstream", is_flag=True,
              help="Also resolve the packages over the upstream mirror and record that "
              "closure's package count and size (for the report).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def bootstrap_command(app: AppContext, packages: tuple[str, ...], archive: str | None,
                      suite: str | None, keyring: Path | None, arch: str | None,
                      platform: str | None,
                      output: Path | None, fmt: str | None, sboms: tuple[str, ...],
                      why_name: str | None, user: str | None, entrypoint: str | None,
                      cmd: str | None, env: tuple[str, ...], workdir: str, tag: str,
                      image_name: str, with_recommends: bool, exclude_docs: bool,
                      exclude_charsets: bool, compression: str | None,
                      path_filters: tuple[str, ...], no_base: bool, no_merged_usr: bool,
                      allow_devices: bool, strict: bool, force: bool, no_record: bool,
                      compare_upstream: bool, as_json: bool) -> None:
    """Install PACKAGES and their dependency closure (nothing else) into an image.

    The closure is resolved over the archive's signed Packages index (nothing is
    implied by Essential or Priority), every .deb is verified against its signed hash,
    unpacked safely, and the packages' declarative actions are applied with no
    interpreter in the image; dpkg's status database is written for scanners. With
    SOURCE_DATE_EPOCH set (default: the archive's Release date) the same inputs give
    the same image digest.

    \b
    Example:
      unessential bootstrap python3 ca-certificates --archive ./public --suite stable \\
          --output python.oci.tar --sbom spdx --entrypoint /usr/bin/python3
      unessential bootstrap busybox --output rootfs/ --format dir
      unessential bootstrap python3 --exclude-docs --output rootfs/
      unessential bootstrap python3 --why libssl3
      unessential bootstrap python3 ca-certificates --platform linux/amd64,linux/arm64 \\
          --output python.oci.tar --sbom spdx,cyclonedx
    """
    target = PublishTarget(app.section(PublishSettings), app.data_dir, app.database_url)
    sboms = _sbom_kinds(sboms)
    settings = app.section(BootstrapSettings)
    try:
        paths = settings.path_filter(exclude_docs, path_filters, exclude_charsets)
    except FilterError as exc:
        raise click.BadParameter(str(exc), param_hint="--path-filter") from None
    reporter = app.reporter() if not as_json else Reporter(quiet=True)
    if user is not None:
        parse_user(user)  # refused before anything is fetched
    from archive.upstream.mirror import host_architecture

    request = Request(
        roots=list(packages),
        archive=archive or str(archive_root(target)),
        suite=suite or target.publish.suite,
        keyring=keyring,
        arch=arch or host_architecture(),
        merged_usr=not no_merged_usr,
        with_recommends=with_recommends,
        allow_devices=allow_devices,
        mtime=source_date_epoch(),
        user=user,
        base=() if no_base else tuple(settings.base),
        paths=paths,
    )
    if why_name is None and output is None:
        raise click.UsageError("give --output (or --why PACKAGE)")
    arches = _platform_arches(platform, arch, request.arch)
    if why_name is not None:
        with Upstream(app.data_dir, upstream_settings(request), reporter=reporter) as upstream:
            _print_why(upstream, request, why_name, as_json)
        return
    assert output is not None
    fmt = fmt or guess_format(output)
    if len(arches) > 1 and fmt != "oci":
        raise click.UsageError(f"several platforms make one OCI image (.oci.tar), not {fmt}")
    output = output.absolute()
    check_target(output, fmt, force)
    built: list[tuple[Request, Installed, ImageConfig, Path, list[str]]] = []
    work = work_dir(output)
    try:
        for one in arches:
            each = replace(request, arch=one)
            with Upstream(app.data_dir, upstream_settings(each), reporter=reporter) as upstream:
                if request.mtime is None:  # every platform gets the first one's epoch
                    request.mtime = _release_epoch(upstream)
                each.mtime = request.mtime
                root = work / (f"rootfs-{one}" if len(arches) > 1 else "rootfs")
                installed = _install(each, root, upstream, reporter, output, packages)
            _report_unhandled(installed, reporter, strict)
            if not as_json:
                _warn_implicit_uses(installed)
            config = _image_config(each, installed, entrypoint, cmd, env, workdir, tag,
                                   image_name or "-".join(sorted(packages)),
                                   compression or settings.compression)
            built.append((each, installed, config, root, []))
        reporter.log(f"write {fmt} {output}")
        from bootstrap.layer import recorded_owners

        if len(built) == 1:
            _, installed, config, root, _ = built[0]
            with recorded_owners(installed.owners):
                digest = write_output(root, output, fmt, config, request.mtime)
        else:
            from bootstrap.oci import write_oci_platforms

            digest = write_oci_platforms([(root, config) for _, _, config, root, _ in built],
                                         output, mtime=request.mtime,
                                         owners=[i.owners for _, i, _, _, _ in built])
        for each, installed, config, _, written in built:
            suffix = f".{each.arch}" if len(built) > 1 else ""
            written += _write_sboms(installed, output, sboms, config, request.mtime or 0,
                                    suffix)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ids: list[int | None] = []
    for each, installed, config, _, _ in built:
        image_id = None
        if not no_record:
            from bootstrap.record import record_image, upstream_closure

            closure = (upstream_closure(app.data_dir, app.section(UpstreamSettings), each,
                                         reporter) if compare_upstream else None)
            image_id = record_image(app.database_url, installed, each, name=config.name,
                                    output=str(output), fmt=fmt, digest=digest,
                                    upstream=closure)
        ids.append(image_id)
    if len(built) == 1:
        _, installed, _, _, written = built[0]
        _summary(installed, output, fmt, digest, written, as_json, reporter, ids[0])
    else:
        _summaries(built, ids, output, fmt, digest, as_json, reporter)


def _install(request: Request, root: Path, upstream: Upstream, reporter: Reporter,
             output: Path, packages: tuple[str, ...]) -> Installed:
    try:
        return install(request, root, upstream, reporter)
    except ResolveError as exc:
        raise ResolveFailed(" ".join(packages), _chain(exc)) from None
    except ActionFailed as exc:
        raise InstallError(str(output), str(exc)) from None
    except OSError as exc:  # disk full, permissions: the image cannot be made
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            raise StorageError(str(output), _os_error(exc)) from None
        raise InstallError(str(output), _os_error(exc)) from None


#: OCI platform architecture (GOARCH) and variant -> Debian architecture
PLATFORMS = {("amd64", ""): "amd64", ("arm64", ""): "arm64", ("arm64", "v8"): "arm64",
             ("arm", "v7"): "armhf", ("arm", "v5"): "armel", ("386", ""): "i386",
             ("ppc64le", ""): "ppc64el", ("s390x", ""): "s390x",
             ("riscv64", ""): "riscv64"}


def _platform_arches(platform: str | None, arch: str | None, default: str) -> list[str]:
    """Debian architectures of `--platform linux/amd64,linux/arm64` (or `--arch`)."""
    if platform is None:
        return [arch or default]
    if arch is not None:
        raise click.UsageError("give --platform or --arch, not both")
    arches: list[str] = []
    for item in (p.strip() for p in platform.split(",")):
        parts = item.split("/")
        if len(parts) not in (2, 3) or parts[0] != "linux":
            raise click.BadParameter(f"{item!r}: expected linux/ARCH[/VARIANT], e.g. "
                                     "linux/arm64", param_hint="--platform")
        key = (parts[1], parts[2] if len(parts) == 3 else "")
        if key not in PLATFORMS:
            known = ", ".join(sorted({"linux/" + "/".join(filter(None, k)) for k in PLATFORMS}))
            raise click.BadParameter(f"{item!r}: not a platform Debian builds ({known})",
                                     param_hint="--platform")
        if PLATFORMS[key] not in arches:
            arches.append(PLATFORMS[key])
    return arches


def _summaries(built: list[tuple[Request, Installed, ImageConfig, Path, list[str]]],
               ids: list[int | None], output: Path, fmt: str, digest: str, as_json: bool,
               reporter: Reporter) -> None:
    if as_json:
        print_json({
            "output": str(output), "format": fmt, "digest": digest,
            "platforms": [{
                "architecture": each.arch, "platform": f"linux/{config.architecture}"
                + (f"/{config.variant}" if config.variant else ""), "image_id": image_id,
                "packages": [asdict(p) for p in installed.packages],
                "installed_size_kib": sum(p.installed_size for p in installed.packages),
                "sboms": written,
                "identity": asdict(installed.identity) if installed.identity else None,
                "unhandled": [asdict(u) for u in installed.unhandled],
                "left_out": {n: len(paths) for n, paths in installed.left_out.items()},
            } for (each, installed, config, _, written), image_id in zip(built, ids,
                                                                         strict=True)],
        })
        return
    for each, installed, _, _, written in built:
        size = sum(p.installed_size for p in installed.packages)
        click.echo(f"{each.arch}: {len(installed.packages)} packages, {size} KiB installed")
        for path in written:
            click.echo(f"sbom: {path}")
    click.echo(f"{len(built)} platforms -> {output} ({fmt}, {digest})")


def _os_error(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _chain(exc: ResolveError) -> str:
    steps = [step for step in exc.chain if step not in exc.message]
    return f"{exc.message} (via {' -> '.join(steps)})" if steps else exc.message


def _print_why(upstream: Upstream, request: Request, name: str, as_json: bool) -> None:
    try:
        resolution, _ = resolve_request(upstream, request)
        chain = why(resolution, name)
    except ResolveError as exc:
        raise ResolveFailed(name, _chain(exc)) from None
    if as_json:
        print_json({"package": name, "chain": chain})
    else:
        click.echo(" -> ".join(chain))


def _release_epoch(upstream: Upstream) -> int | None:
    dates = [s.release.date for s in upstream.suites() if s.release.date is not None]
    return int(max(dates).timestamp()) if dates else None


def _json_list(text: str | None, what: str) -> tuple[str, ...]:
    if not text:
        return ()
    if text.lstrip().startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not a JSON list: {exc}", param_hint=what) from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise click.BadParameter("expected a JSON list of strings", param_hint=what)
        return tuple(value)
    return (text,)


def _image_config(request: Request, installed: Installed, entrypoint: str | None,
                  cmd: str | None, env: tuple[str, ...], workdir: str, tag: str,
                  name: str, compression: str = "gzip") -> ImageConfig:
    base = ImageConfig()
    for item in env:
        if "=" not in item:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--env")
    user = f"{installed.user[0]}:{installed.user[1]}" if installed.user else ""
    return ImageConfig(
        architecture=OCI_ARCH.get(request.arch, request.arch),
        variant=OCI_VARIANT.get(request.arch, ""),
        entrypoint=_json_list(entrypoint, "--entrypoint"), cmd=_json_list(cmd, "--cmd"),
        env=(*base.env, *env), user=user, workdir=workdir,
        labels={"org.opencontainers.image.description":
                f"unessential bootstrap {' '.join(request.roots)}",
                "org.opencontainers.image.source": installed.archive_url},
        created=request.mtime or 0, tag=tag, name=f"unessential/{name}",
        compression=compression)


def _sbom_kinds(values: tuple[str, ...]) -> tuple[str, ...]:
    kinds: list[str] = []
    for value in values:
        for kind in (k.strip().lower() for k in value.split(",")):
            if kind not in ("spdx", "cyclonedx"):
                raise click.BadParameter(f"{kind!r}: expected spdx or cyclonedx",
                                         param_hint="--sbom")
            if kind not in kinds:
                kinds.append(kind)
    return tuple(kinds)


def _write_sboms(installed: Installed, output: Path, kinds: tuple[str, ...],
                 config: ImageConfig, created: int, suffix: str = "") -> list[str]:
    written: list[str] = []
    if not kinds:
        return written
    from bootstrap.sbom import cyclonedx_json, spdx_json, write_sbom

    seed = "\n".join(f"{p.name} {p.version} {p.sha256}" for p in installed.packages)
    paths = installed.path_filters
    for kind in kinds:
        if kind == "spdx":
            document = spdx_json(installed.packages, image_name=config.name, created=created,
                                 namespace_seed=seed, identity=installed.identity,
                                 path_filters=paths)
            path = output.with_name(output.name + suffix + ".spdx.json")
        else:
            document = cyclonedx_json(installed.packages, image_name=config.name,
                                      created=created, serial_seed=seed,
                                      identity=installed.identity, path_filters=paths)
            path = output.with_name(output.name + suffix + ".cdx.json")
        write_sbom(path, document)
        written.append(str(path))
    return written


def _report_unhandled(installed: Installed, reporter: Reporter, strict: bool) -> None:
    for item in installed.unhandled:
        reporter.log(f"warning: {item.package}: {', '.join(item.scripts)} {item.reason}")
    if strict and installed.unhandled:
        first = installed.unhandled[0]
        raise InstallError(first.package, f"{', '.join(first.scripts)} {first.reason} "
                           "(--strict)")


def _warn_implicit_uses(installed: Installed) -> None:
    """One warning line per implicit use the image leaves unsatisfied (even with -q: a
    program of the image will fail at run time). With --json they are in the output."""
    for use in installed.implicit_uses:
        click.echo(f"warning: implicit use: {use.line()}", err=True)


def _summary(installed: Installed, output: Path, fmt: str, digest: str, sboms: list[str],
             as_json: bool, reporter: Reporter, image_id: int | None) -> None:
    size = sum(p.installed_size for p in installed.packages)
    if as_json:
        print_json({
            "output": str(output), "format": fmt, "digest": digest, "image_id": image_id,
            "packages": [asdict(p) for p in installed.packages],
            "installed_size_kib": size, "sboms": sboms,
            "why": installed.resolution.why,
            "actions": [asdict(o) for o in installed.outcomes],
            "unhandled": [asdict(u) for u in installed.unhandled],
            "implicit_uses": [asdict(u) for u in installed.implicit_uses],
            "identity": asdict(installed.identity) if installed.identity else None,
            "missing_base": installed.missing_base,
            "path_filters": installed.path_filters,
            "left_out": {name: len(paths) for name, paths in installed.left_out.items()},
        })
        return
    skipped = [o for o in installed.outcomes if o.status == "skipped"]
    click.echo(f"{len(installed.packages)} packages, {size} KiB installed -> {output} "
               f"({fmt}{', ' + digest if digest else ''})")
    applied = sum(1 for o in installed.outcomes if o.status == "applied")
    click.echo(f"actions: {applied} applied, {len(skipped)} skipped, "
               f"{len(installed.unhandled)} packages with scripts not run")
    if installed.path_filters:
        left = sum(len(paths) for paths in installed.left_out.values())
        click.echo(f"path filters: {left} paths of {len(installed.left_out)} packages left out")
    if installed.identity is not None:
        click.echo(f"identity: {installed.identity.pretty_name or installed.identity.distro} "
                   f"({installed.identity.path})")
    if installed.implicit_uses:
        packages = len({u.package for u in installed.implicit_uses})
        click.echo(f"implicit uses: {len(installed.implicit_uses)} unsatisfied in {packages} "
                   "packages (listed above; `audit --fail-on implicit-use` gates on them)")
    for path in sboms:
        click.echo(f"sbom: {path}")
