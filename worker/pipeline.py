"""One build, worker side: claim → fetch → build or repack → rewrite → store → record.

Plain functions; the Celery task in `worker.tasks` only calls `run_build`. Failures
of the package (build, recipe, rewrite, integrity) end the build `failed` with the
log; network failures hand the build back and are retried by the task.

Each build works in its own `<data_dir>/work/build-<id>-*` directory, locked (flock)
by the process running the build for as long as it lives. A worker killed with
SIGKILL cannot remove it: `clean_stale_work` (run when a worker or `rebuild` starts,
and when `rebuild --wait` sees its worker die) removes the directories no live
process holds, never the directory of a build that is running.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from archive.artifacts import ArtifactStore, pool_path
from archive.catalog.db import make_engine, session_factory
from archive.debfile import ControlMember, read_deb
from archive.publish.facts import catalog_columns, deb_facts
from archive.upstream.mirror import host_architecture
from base.errors import (
    FlaggedScript,
    MirrorUnreachable,
    RecipeError,
    TruncatedDownload,
    UnessentialError,
)
from recipes.actions import render_actions_file
from recipes.policy import Policy, load_policy
from recipes.recipe import Recipe
from rewrite.engine import RewriteReport, rewrite
from rewrite.relations import Universe
from rewrite.versions import mark_versions, marked
from worker.deliver import prepare_upload, send_pending, uploading
from worker.environment import build_env, campaign_recipe, repack_inputs
from worker.record import (
    BinaryResult,
    Claimed,
    Flagged,
    Heartbeat,
    NotClaimed,
    OwnSource,
    claim,
    record_failure,
    record_success,
    release,
)
from worker.settings import FarmSettings
from worker.upstream_memo import shared_upstream
from worker.workdirs import (  # noqa: F401 - also the names other modules import from here
    LOG_LIMIT,
    clean_stale_work,
    fail_interrupted,
    holder_on_this_host,
    process_alive,
    work_directory,
    worker_name,
)

if TYPE_CHECKING:
    from worker.build.chroot import BuildResult, NewSource

RETRYABLE = (MirrorUnreachable, TruncatedDownload)
class InProgressElsewhere(Exception):
    """Another live worker holds the build: try again after its lease."""


@dataclass
class Outcome:
    build_id: int
    status: str  # done | failed | noop-done | noop-failed
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"build_id": self.build_id, "status": self.status, "detail": self.detail}


class BuildLog:
    """The log of one build: pipeline steps with timestamps, then the build's own log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")

    def __call__(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"[{time.strftime('%H:%M:%S')}] {line}\n")

    def append_file(self, other: Path) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(other.read_text(encoding="utf-8", errors="replace"))

    def text(self) -> str:
        data = self.path.read_text(encoding="utf-8", errors="replace")
        return data if len(data) <= LOG_LIMIT else "[... truncated ...]\n" + data[-LOG_LIMIT:]


def run_build(build_id: int, settings: FarmSettings, *, worker: str, task_id: str) -> Outcome:
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        got = claim(sessions, build_id, worker, task_id, settings.worker.lease)
        if isinstance(got, NotClaimed):
            if got.status == "building":
                raise InProgressElsewhere(f"build {build_id} is held by {got.holder}")
            return Outcome(build_id, f"noop-{got.status}", "nothing to do")
        if uploading(settings):  # what an earlier task (or a killed one) did not send
            _send(settings, lambda line: None)
        with work_directory(settings.data_dir, build_id) as work:
            return _run_claimed(got, sessions, settings, worker, work)
    finally:
        engine.dispose()


def _run_claimed(got: Claimed, sessions: sessionmaker[Session], settings: FarmSettings,
                 worker: str, work: Path) -> Outcome:
    build_id = got.build_id
    log = BuildLog(settings.data_dir / "logs" / f"{build_id}.log")
    log(f"build {build_id}: {got.source} {got.version} ({got.origin}) on {worker}")
    try:
        with Heartbeat(sessions, build_id, worker, settings.worker.heartbeat):
            binaries, flagged, made, buildinfo = _produce(got, settings, work, log)
            if uploading(settings):  # written before it is recorded: never lost
                prepare_upload(got, binaries, made, settings, log)
        record_success(sessions, build_id, worker, binaries, log.text(), flagged=flagged,
                       source=made, buildinfo=buildinfo)
        if uploading(settings):
            _send(settings, log)
        return Outcome(build_id, "done", f"{len(binaries)} binaries"
                       + (f", {len(flagged)} flagged" if flagged else ""))
    except RETRYABLE as exc:
        log(f"network error, handing the build back: {exc}")
        release(sessions, build_id, worker, str(exc))
        raise
    except UnessentialError as exc:
        log(f"FAILED: {exc}")
        tail = getattr(exc, "log_tail", "")
        if tail:
            log("last lines of the build log:\n" + tail)
        record_failure(sessions, build_id, worker, str(exc), log.text())
        return Outcome(build_id, "failed", str(exc))
    except Exception as exc:  # noqa: BLE001 - an unexpected bug fails this build only
        log("FAILED with an internal error:\n" + traceback.format_exc())
        record_failure(sessions, build_id, worker,
                       f"internal error: {type(exc).__name__}: {exc}", log.text())
        return Outcome(build_id, "failed", f"internal error: {exc}")


def _send(settings: FarmSettings, log: Callable[[str], None]) -> None:
    """Send the uploads of builds recorded done: a failure here is the delivery's, never
    the build's (what was not sent stays in outgoing/ for the next attempt)."""
    try:
        send_pending(settings, log)
    except (UnessentialError, OSError) as exc:
        log(f"uploads not sent: {exc}")


def give_up(build_id: int, settings: FarmSettings, error: str) -> None:
    """After the last retry: the build fails with the network error."""
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    worker = worker_name()
    try:
        got = claim(sessions, build_id, worker, "give-up", settings.worker.lease)
        if isinstance(got, Claimed):
            record_failure(sessions, build_id, worker, f"gave up after retries: {error}", "")
    finally:
        engine.dispose()


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _produce(got: Claimed, settings: FarmSettings, work: Path, log: BuildLog
             ) -> tuple[list[BinaryResult], list[Flagged], OwnSource | None, str | None]:
    """What a build makes: the rewritten binaries, those flagged, the source of our own
    (a recipe's patches), the .buildinfo of a source build."""
    policy = load_policy()
    recipe, digest, error = campaign_recipe(policy, got.source, settings.worker.recipes_dir)
    if error is not None:
        raise RecipeError(got.source, error)
    if digest != got.recipe_digest:
        log(f"note: the recipe changed since the build was queued ({digest[:12]})")
    arch = got.architecture or (settings.upstream.architectures or [host_architecture()])[0]
    with shared_upstream(settings, arch,
                         tuple(policy.implicit_essential.priorities)) as opened:
        upstream, records, universe = opened.upstream, opened.records, opened.universe
        inputs = work / "in"
        if got.origin == "repack":
            wanted = [(r.package, r.version, r.architecture)
                      for r in repack_inputs(records, got.source, got.version, arch)]
            if not wanted:
                from base.errors import NotFoundError

                raise NotFoundError(f"{got.source} {got.version}",
                                    f"no upstream binaries for {arch}")
            chosen = _chosen_binaries([package for package, _, _ in wanted], recipe, got, log,
                                      built=f"built upstream for {arch}")
            wanted = [w for w in wanted if w[0] in chosen]
            debs = []
            for package, version, architecture in wanted:
                log(f"fetch {package} {version} ({architecture}), verified")
                result = upstream.fetch_binary(package, version, inputs,
                                               arch if architecture != "all" else None)
                debs += result.files
        else:
            log(f"fetch source {got.source} {got.version}, verified")
            fetched = upstream.fetch_source(got.source, got.version, inputs)
    made: OwnSource | None = None
    buildinfo: str | None = None
    if got.origin != "repack":
        new_source = _new_source(recipe, got, settings)
        patches = list(recipe.source.paths) if recipe is not None and recipe.source else []
        built = _build(fetched.files, settings, arch, work, log, new_source, got.suite,
                       patches)
        debs = built.debs
        if built.buildinfo is not None:
            buildinfo = built.buildinfo.read_text(encoding="utf-8", errors="replace")
        if new_source is not None:
            made = _store_source(new_source.version, built.sources, settings, log)
        chosen = _chosen_binaries([_deb_package(deb) for deb in debs], recipe, got, log,
                                  built="built")
        debs = [deb for deb in debs if _deb_package(deb) in chosen]
    elif recipe is not None and recipe.source is not None:
        raise RecipeError(recipe.origin, "key 'source': a recipe with patches makes a source "
                          "of its own, built from source: rebuild it without --repack")
    binaries, flagged = _rewrite_all(debs, got, universe, policy, recipe, digest, settings,
                                     work, log, own_version=made.version if made else None)
    return binaries, flagged, made, buildinfo


def _deb_package(deb: Path) -> str:
    """The package name of a .deb named the Debian way (`name_version_arch.deb`)."""
    return deb.name.split("_", 1)[0]


def _chosen_binaries(names: list[str], recipe: Recipe | None, got: Claimed,
                     log: Callable[[str], None], *, built: str) -> set[str]:
    """The binaries of the source to produce: all of `names`, or the recipe's `binaries`.

    The others are skipped with a log line; a binary the recipe names that is not among
    `names` fails the build (RecipeError naming the recipe file)."""
    available = sorted(set(names))
    if recipe is None or recipe.binaries is None:
        return set(available)
    missing = [name for name in recipe.binaries if name not in available]
    if missing:
        raise RecipeError(
            recipe.origin,
            f"key 'binaries': {', '.join(missing)} not {built} by {got.source} {got.version} "
            f"(it has: {', '.join(available)})")
    skipped = [name for name in available if name not in recipe.binaries]
    log(f"recipe binaries: producing {len(recipe.binaries)} of {len(available)} binaries "
        f"of {got.source} ({', '.join(recipe.binaries)})")
    if skipped:
        log(f"skipped (not in the recipe's binaries): {', '.join(skipped)}")
    return set(recipe.binaries)


def _new_source(recipe: Recipe | None, got: Claimed, settings: FarmSettings
                ) -> NewSource | None:
    """The source of our own a recipe's `[source]` asks for: the upstream version with
    our mark and the build's counter."""
    from worker.build.chroot import NewSource

    if recipe is None or recipe.source is None:
        return None
    if got.counter is None:
        raise RecipeError(recipe.origin, f"key 'source': build {got.build_id} was queued "
                          "before versions were marked; plan it again (rebuild)")
    version = marked(got.version, got.mark or settings.worker.version_mark, got.counter)
    return NewSource(version=version, changes=recipe.source.changelog,
                     maintainer=settings.worker.maintainer)


def _store_source(version: str, files: list[Path], settings: FarmSettings,
                  log: BuildLog) -> OwnSource:
    """Keep the files of the source of our own in the artifact store."""
    store = ArtifactStore(settings.data_dir / "artifacts")
    kept = []
    for path in files:
        sha, size = store.store(path)
        kept.append((path.name, sha, size))
        log(f"source file {path.name}: sha256 {sha}")
    return OwnSource(version, kept)


def _build(files: list[Path], settings: FarmSettings, arch: str, work: Path,
           log: BuildLog, new_source: NewSource | None = None,
           suite: str | None = None,
           patches: list[Path] | None = None) -> BuildResult:
    from worker.build.chroot import build_source, ensure_base
    from worker.build.userns import choose

    sandbox = choose(settings.worker.sandbox)
    env = build_env(settings, arch, suite)
    base = ensure_base(env, _ensure(settings.data_dir / "chroots"), log=log, sandbox=sandbox)
    dsc = next(f for f in files if f.name.endswith(".dsc"))
    log(f"build {dsc.name} in a network-less chroot ({env.codename}/{env.arch}, sandbox "
        f"{sandbox.backend})")
    result = build_source(dsc, env, base, work / "build", work / "built",
                          timeout=settings.worker.build_timeout, jobs=settings.worker.jobs,
                          patches=patches or [], new_source=new_source, log=log,
                          sandbox=sandbox)
    log(f"built {len(result.debs)} packages in {result.seconds:.0f} s"
        + (f" and the source {new_source.version}" if new_source is not None else ""))
    log.append_file(result.log)
    return result


def _rewrite_all(debs: list[Path], got: Claimed, universe: Universe, policy: Policy,
                 recipe: Recipe | None, digest: str, settings: FarmSettings, work: Path,
                 log: BuildLog, *, own_version: str | None = None
                 ) -> tuple[list[BinaryResult], list[Flagged]]:
    """Rewrite each .deb; a binary whose scripts the engine flags is not produced (and
    listed), unless the recipe names its binaries (it asked for that one).

    The binaries get our version (rewrite.versions), but those built from a source of
    our own (`own_version`) that already carry its version. A relation pinning a
    sibling that is not produced (flagged) keeps Debian's version: the binaries that
    pinned it are rewritten again without it."""
    mark = got.mark or settings.worker.version_mark
    versions = (mark_versions(debs, mark, got.counter, keep=own_version)
                if got.counter is not None else None)
    if versions is not None:
        log(f"versions: Debian's + {mark}{got.counter}")
    done, flagged = _rewrite_each(debs, got, universe, policy, recipe, digest, work, log,
                                  versions)
    gone = {f.name for f in flagged}
    if versions is not None and gone and any(
            change.action == "pinned" and change.relation.split(" ", 1)[0] in gone
            for _, report in done for change in report.relations):
        log(f"not produced, so not pinned: {', '.join(sorted(gone))}; rewriting again")
        versions = {name: pair for name, pair in versions.items() if name not in gone}
        done, _ = _rewrite_each([deb for deb, _ in done], got, universe, policy, recipe,
                                digest, work, log, versions)
    if flagged and not done:  # nothing of the source translates: the build fails
        raise FlaggedScript(got.source, "every binary has a flagged maintainer script: "
                            + "; ".join(f.problem for f in flagged))
    store = ArtifactStore(settings.data_dir / "artifacts")
    results = []
    for deb, report in done:
        sha, size = store.store(Path(report.output))
        results.append(_binary_result(report, deb, sha, size, got.source))
    return results, flagged


def _rewrite_each(debs: list[Path], got: Claimed, universe: Universe, policy: Policy,
                  recipe: Recipe | None, digest: str, work: Path, log: BuildLog,
                  versions: dict[str, tuple[str, str]] | None
                  ) -> tuple[list[tuple[Path, RewriteReport]], list[Flagged]]:
    out_dir = work / "out"
    done: list[tuple[Path, RewriteReport]] = []
    flagged: list[Flagged] = []
    for deb in sorted(debs):
        log(f"rewrite {deb.name}")
        try:
            report = rewrite(deb, out_dir, universe=universe, policy=policy, recipe=recipe,
                             recipe_digest=digest, versions=versions)
        except FlaggedScript as exc:
            if recipe is not None and recipe.binaries is not None:
                raise  # the recipe asks for this binary: the build fails with it
            log(f"  not produced (flagged): {exc.cause}")
            flagged.append(Flagged(exc.package, exc.version, exc.architecture, exc.cause))
            continue
        done.append((deb, report))
        for change in report.relations:
            log(f"  {change.action} {change.field}: {change.relation} [{change.reason}]")
    return done, flagged


def _binary_result(report: RewriteReport, original: Path, sha: str, size: int,
                   source: str) -> BinaryResult:
    before = read_deb(original).members
    after = read_deb(Path(report.output)).members
    scripts = []
    for script in report.scripts:
        text = before[script.script].data.decode("utf-8", "replace")
        rendered = after.get(script.script)
        scripts.append((script.script, script.original_sha256, text,
                        render_actions_file(script.actions),
                        rendered.data.decode("utf-8", "replace") if rendered else None))
    return BinaryResult(
        name=report.package, version=report.version, architecture=report.architecture,
        sha256=sha, size=size, filename=pool_path(source, Path(report.output).name),
        original_version=report.original_version,
        relations=[(c.field, c.relation, c.action, c.reason, c.detail)
                   for c in report.relations],
        scripts=scripts,
        original_sha256=report.input_sha256,
        original_control=_text(before.get("control")),
        control=_text(after.get("control")),
        installed_size=_installed_size(_text(after.get("control"))),
        original_installed_size=_installed_size(_text(before.get("control"))),
        facts=catalog_columns(deb_facts(Path(report.output), sha)),
        implicit_uses=[(u.path, u.kind, u.needs, u.evidence, u.provider, u.declared)
                       for u in report.implicit_uses],
    )


def _text(member: ControlMember | None) -> str | None:
    return member.data.decode("utf-8", "replace") if member is not None else None


def _installed_size(control: str | None) -> int | None:
    for line in (control or "").splitlines():
        if line.startswith("Installed-Size:"):
            value = line.split(":", 1)[1].strip()
            return int(value) if value.isdigit() else None
    return None
