"""One build, worker side: claim → fetch → build or repack → rewrite → store → record.

Plain functions; the Celery task in `worker.tasks` only calls `run_build`. Failures
of the package (build, recipe, rewrite, integrity) end the build `failed` with the
log; network failures hand the build back and are retried by the task.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archive.artifacts import ArtifactStore, pool_path
from archive.catalog.db import make_engine, session_factory
from archive.debfile import ControlMember, read_deb
from archive.upstream.mirror import Upstream, host_architecture
from recipes.actions import render_actions_file
from recipes.policy import Policy, load_policy
from recipes.recipe import Recipe
from unessential.config import Settings
from unessential.console import Reporter
from unessential.errors import (
    MirrorUnreachable,
    RecipeError,
    TruncatedDownload,
    UnessentialError,
)
from worker.environment import build_env, campaign_recipe
from worker.record import (
    BinaryResult,
    Claimed,
    Heartbeat,
    NotClaimed,
    claim,
    record_failure,
    record_success,
    release,
)
from worker.rewrite.engine import RewriteReport, rewrite
from worker.rewrite.relations import Universe

RETRYABLE = (MirrorUnreachable, TruncatedDownload)
LOG_LIMIT = 4 << 20  # characters of build log kept in the catalog


class InProgressElsewhere(Exception):
    """Another live worker holds the build: try again after its lease."""


@dataclass
class Outcome:
    build_id: int
    status: str  # done | failed | noop-done | noop-failed
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"build_id": self.build_id, "status": self.status, "detail": self.detail}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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


def run_build(build_id: int, settings: Settings, *, worker: str, task_id: str) -> Outcome:
    engine = make_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    try:
        got = claim(sessions, build_id, worker, task_id, settings.worker.lease)
        if isinstance(got, NotClaimed):
            if got.status == "building":
                raise InProgressElsewhere(f"build {build_id} is held by {got.holder}")
            return Outcome(build_id, f"noop-{got.status}", "nothing to do")
        work = Path(tempfile.mkdtemp(prefix=f"build-{build_id}-",
                                     dir=_ensure(settings.data_dir / "work")))
        log = BuildLog(settings.data_dir / "logs" / f"{build_id}.log")
        log(f"build {build_id}: {got.source} {got.version} ({got.origin}) on {worker}")
        try:
            with Heartbeat(sessions, build_id, worker, settings.worker.heartbeat):
                binaries = _produce(got, settings, work, log)
            record_success(sessions, build_id, worker, binaries, log.text())
            return Outcome(build_id, "done", f"{len(binaries)} binaries")
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
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        engine.dispose()


def give_up(build_id: int, settings: Settings, error: str) -> None:
    """After the last retry: the build fails with the network error."""
    engine = make_engine(settings.effective_database_url)
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


def _produce(got: Claimed, settings: Settings, work: Path, log: BuildLog) -> list[BinaryResult]:
    policy = load_policy()
    recipe, digest, error = campaign_recipe(policy, got.source, settings.worker.recipes_dir)
    if error is not None:
        raise RecipeError(got.source, error)
    if digest != got.recipe_digest:
        log(f"note: the recipe changed since the build was queued ({digest[:12]})")
    arch = (settings.upstream.architectures or [host_architecture()])[0]
    reporter = Reporter(quiet=True)
    with Upstream(settings.data_dir, settings.upstream, reporter=reporter) as upstream:
        records = [record for _, record in upstream.packages(arch)]
        universe = Universe.from_records(records, policy.implicit_essential.priorities)
        inputs = work / "in"
        if got.origin == "repack":
            wanted = sorted(
                {(r.package, r.version, r.architecture) for r in records
                 if r.source == got.source and r.source_version == got.version})
            if not wanted:
                from unessential.errors import NotFoundError

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
    if got.origin != "repack":
        debs = _build(fetched.files, settings, arch, work, log)
        chosen = _chosen_binaries([_deb_package(deb) for deb in debs], recipe, got, log,
                                  built="built")
        debs = [deb for deb in debs if _deb_package(deb) in chosen]
    return _rewrite_all(debs, got, universe, policy, recipe, digest, settings, work, log)


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


def _build(files: list[Path], settings: Settings, arch: str, work: Path,
           log: BuildLog) -> list[Path]:
    from worker.build.chroot import build_source, ensure_base

    env = build_env(settings, arch)
    base = ensure_base(env, _ensure(settings.data_dir / "chroots"), log=log)
    dsc = next(f for f in files if f.name.endswith(".dsc"))
    log(f"build {dsc.name} in a network-less chroot ({env.codename}/{env.arch})")
    result = build_source(dsc, env, base, work / "build", work / "built",
                          timeout=settings.worker.build_timeout, jobs=settings.worker.jobs,
                          log=log)
    log(f"built {len(result.debs)} packages in {result.seconds:.0f} s")
    log.append_file(result.log)
    return result.debs


def _rewrite_all(debs: list[Path], got: Claimed, universe: Universe, policy: Policy,
                 recipe: Recipe | None, digest: str, settings: Settings, work: Path,
                 log: BuildLog) -> list[BinaryResult]:
    store = ArtifactStore(settings.data_dir / "artifacts")
    out_dir = work / "out"
    results = []
    for deb in sorted(debs):
        log(f"rewrite {deb.name}")
        report = rewrite(deb, out_dir, universe=universe, policy=policy, recipe=recipe,
                         recipe_digest=digest)
        sha, size = store.store(Path(report.output))
        results.append(_binary_result(report, deb, sha, size, got.source))
        for change in report.relations:
            log(f"  {change.action} {change.field}: {change.relation} [{change.reason}]")
    return results


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
        relations=[(c.field, c.relation, c.action, c.reason, c.detail)
                   for c in report.relations],
        scripts=scripts,
        original_sha256=report.input_sha256,
        original_control=_text(before.get("control")),
        control=_text(after.get("control")),
        installed_size=_installed_size(_text(after.get("control"))),
        original_installed_size=_installed_size(_text(before.get("control"))),
    )


def _text(member: ControlMember | None) -> str | None:
    return member.data.decode("utf-8", "replace") if member is not None else None


def _installed_size(control: str | None) -> int | None:
    for line in (control or "").splitlines():
        if line.startswith("Installed-Size:"):
            value = line.split(":", 1)[1].strip()
            return int(value) if value.isdigit() else None
    return None
