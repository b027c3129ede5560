"""Recording a bootstrapped image in the catalog (for `audit` and `report`).

The catalog is the one of the configuration (the embedded SQLite file by default);
recording is one transaction after the image is written. The upstream comparison
resolves the same roots over the upstream mirror's Packages (nothing implied by
Essential either) and sums their Installed-Size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.catalog.db import make_engine, session_factory, upgrade
from archive.catalog.models import Image, ImagePackage
from archive.settings import UpstreamSettings
from archive.upstream.mirror import Upstream
from base.console import Reporter
from base.errors import UnessentialError
from bootstrap.installer import Installed, Request
from bootstrap.resolver import ResolveError, resolve


@dataclass(frozen=True)
class UpstreamClosure:
    count: int
    installed_size: int  # KiB


def upstream_closure(data_dir: Path, settings: UpstreamSettings, request: Request,
                     reporter: Reporter) -> UpstreamClosure | None:
    """The roots' closure over the upstream mirror, or None (with a warning) if unknown."""
    try:
        with Upstream(data_dir, settings, reporter=reporter) as upstream:
            records = [record for _, record in upstream.packages(request.arch)]
        resolution = resolve(records, request.roots, arch=request.arch)
    except (UnessentialError, ResolveError) as exc:
        reporter.log(f"warning: no upstream comparison: {exc}")
        return None
    size = sum(int(r.fields.get("Installed-Size", "0") or 0) for r in resolution.packages)
    return UpstreamClosure(len(resolution.packages), size)


def record_image(url: str, installed: Installed, request: Request, *, name: str,
                 output: str, fmt: str, digest: str,
                 upstream: UpstreamClosure | None) -> int:
    """Store the image and its packages; the image's id."""
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            image = Image(
                name=name, roots=" ".join(request.roots), output=output, format=fmt,
                digest=digest or None, archive=installed.archive_url, suite=request.suite,
                installed_size=sum(p.installed_size for p in installed.packages),
                upstream_count=upstream.count if upstream else None,
                upstream_installed_size=upstream.installed_size if upstream else None)
            depends = {r.package: ", ".join(v for v in (r.pre_depends, r.depends) if v)
                       for r in installed.resolution.packages}
            image.packages = [
                ImagePackage(name=p.name, version=p.version, architecture=p.architecture,
                             source=p.source, sha256=p.sha256, installed_size=p.installed_size,
                             depends=depends.get(p.name, ""),
                             why=" -> ".join(installed.resolution.why.get(p.name, [])))
                for p in installed.packages
            ]
            session.add(image)
            session.flush()
            return image.id
    finally:
        engine.dispose()
