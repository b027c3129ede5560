"""Verify one package: build the systems, snapshot them, compare them with A.

Systems (each an overlay of the one base tree, see `systems`):

- A: Debian's .debs installed by stock dpkg (the chroot's apt orders them), the
  original maintainer scripts run;
- B: our rewritten .debs installed the same way, the rendered POSIX sh run;
- C: our rewritten .debs installed natively by an installer the caller passes in
  (`audit.verify` passes bootstrap's: actions applied, nothing executed). This module
  may not import bootstrap (rewrite is below it), hence the parameter.

A package of the closure the engine refuses (not the package verified) is installed as
Debian built it in B (its own scripts run, as in A), and C is not built then: the
result lists it as kept.

Scenarios: `install` (configure with no previous version) for B and C; `remove` and
`purge` of the package after that install, and `upgrade` from Debian's previous
version when one is given, for B (bootstrap does not remove nor upgrade). A package
the base already has (Priority required ones) cannot be installed fresh on it: it is
verified by `reinstall` instead (`dpkg --install` of the same version over the base's:
prerm/preinst upgrade, postinst configure with the installed version), for B.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from base.errors import UnessentialError
from recipes.expected import Expected
from recipes.policy import Policy
from recipes.recipe import load_recipe, recipe_digest
from rewrite.engine import RewriteReport, read_control, rewrite, source_of
from rewrite.relations import Universe
from rewrite.verify.compare import Comparison, RelationChanges, classify, compare
from rewrite.verify.snapshot import Entry, Snapshot, snapshot, walk
from rewrite.verify.systems import (
    Layers,
    StepResult,
    apt_install,
    dpkg,
    dpkg_install,
    mount_overlay,
    remove_system,
    umount_overlay,
)

Log = Callable[[str], None]
#: installs rewritten .debs natively into the mounted system at `root`
NativeInstall = Callable[[Path, Sequence[Path], Log], None]
SCENARIOS = ("install", "remove", "purge", "upgrade", "reinstall")


@dataclass
class Subject:
    """One package to verify: Debian's .debs to install (the package and what its
    closure adds to the base) and, for the upgrade, those of the previous version."""

    package: str
    debs: list[Path]
    previous: list[Path] = field(default_factory=list)
    version: str = ""
    in_base: bool = False  # the base has it: verified by a reinstall
    # Debian's packages of the base built from the package's source, whose previous
    # version is in `previous` (a pinned sibling, e.g. perl-base for perl): installed
    # again at the base's version with the upgrade, in A and in B
    companions: list[Path] = field(default_factory=list)


@dataclass
class PackageResult:
    package: str
    version: str
    comparisons: list[Comparison] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rewrites: list[RewriteReport] = field(default_factory=list)
    seconds: float = 0.0
    refused: str = ""  # the engine refused to rewrite it
    # packages of its closure the engine refuses: Debian's own .deb installed in B (its
    # own scripts run, as in A), no native install (C); "PACKAGE: why" each
    kept: list[str] = field(default_factory=list)

    @property
    def equivalent(self) -> bool:
        return not self.errors and not self.refused \
            and all(not c.unexpected for c in self.comparisons)

    @property
    def status(self) -> str:
        """equivalent, different or not-rewritten."""
        if self.refused and not self.errors:
            return "not-rewritten"
        return "equivalent" if self.equivalent else "different"

    def as_dict(self) -> dict[str, object]:
        expected: dict[str, int] = {}
        for comparison in self.comparisons:
            for reason, count in comparison.expected.items():
                expected[reason] = expected.get(reason, 0) + count
        return {"package": self.package, "version": self.version,
                "status": self.status, "equivalent": self.equivalent,
                "refused": self.refused, "kept": self.kept, "errors": self.errors,
                "expected": dict(sorted(expected.items())),
                "comparisons": [c.as_dict() for c in self.comparisons],
                "seconds": round(self.seconds, 2)}


class Rewriter:
    """Rewrites upstream .debs with the engine (each .deb once per run)."""

    def __init__(self, universe: Universe, policy: Policy, recipes_dir: Path | None,
                 out_dir: Path) -> None:
        self.universe = universe
        self.policy = policy
        self.recipes_dir = recipes_dir
        self.out_dir = out_dir
        self._done: dict[Path, tuple[Path, RewriteReport]] = {}

    def __call__(self, deb: Path) -> tuple[Path, RewriteReport]:
        key = deb.resolve()
        if key not in self._done:
            recipe = load_recipe(source_of(read_control(deb)), self.recipes_dir)
            out = self.out_dir / f"{len(self._done):04d}"
            if not deb.name.endswith(".deb"):  # a cache object: name the copy as a .deb
                control = read_control(deb)
                named = self.out_dir / "in" / f"{control['Package']}_{len(self._done):04d}.deb"
                named.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(deb, named)
                deb = named
            report = rewrite(deb, out, universe=self.universe, policy=self.policy,
                             recipe=recipe, recipe_digest=recipe_digest(self.policy, recipe))
            self._done[key] = (Path(report.output), report)
        return self._done[key]


class Base:
    """The base tree every system starts from, and its snapshot (taken once)."""

    def __init__(self, root: Path, expected: Expected) -> None:
        self.root = root
        self.expected = expected
        self.tree: dict[str, Entry] = walk(root, self.skip)
        self.snapshot = snapshot(root, self.tree, None, self.skip)

    def skip(self, path: str) -> bool:
        return self.expected.volatile.covers(path)


class System:
    """One system: an overlay of the base under `work/<name>`."""

    def __init__(self, base: Base, work: Path, name: str) -> None:
        self.base = base
        self.name = name
        self.layers = Layers(base.root, work / name / "upper", work / name / "work",
                             work / name / "merged")
        remove_system(work / name)
        self.layers.create()
        self.dir = work / name

    def install(self, debs: Sequence[Path]) -> StepResult:
        return apt_install(self.layers, debs)

    def dpkg(self, *args: str) -> StepResult:
        return dpkg(self.layers, *args)

    def snapshot(self) -> Snapshot:
        return snapshot(self.base.root, self.base.tree, self.layers.upper, self.base.skip)

    def native(self, installer: NativeInstall, debs: Sequence[Path], log: Log) -> None:
        mount_overlay(self.layers)
        try:
            installer(self.layers.merged, debs, log)
        finally:
            umount_overlay(self.layers)

    def remove(self) -> None:
        remove_system(self.dir)


def _tail(step: StepResult, lines: int = 12) -> str:
    return "\n".join(step.output.rstrip().splitlines()[-lines:])


class Verifier:
    """Verifies packages against one base; `verify(subject)` per package."""

    def __init__(self, base: Base, rewriter: Callable[[Path], tuple[Path, RewriteReport]],
                 work: Path, *, native: NativeInstall | None = None,
                 scenarios: Sequence[str] = SCENARIOS, log: Log = lambda _: None,
                 keep: bool = False) -> None:
        self.base = base
        self.rewriter = rewriter
        self.work = work
        self.native = native
        self.scenarios = tuple(scenarios)
        self.log = log
        self.keep = keep

    def _compare(self, result: PackageResult, a: Snapshot, x: Snapshot, system: str,
                 scenario: str, changes: RelationChanges) -> None:
        found = compare(a, x, self.base.snapshot, rewritten=changes)
        result.comparisons.append(Comparison(system, scenario,
                                             classify(found, self.base.expected, system)))

    def _step(self, result: PackageResult, system: System, what: str,
              step: StepResult) -> bool:
        if step.returncode == 0:
            return True
        result.errors.append(f"{system.name}: {what} failed (exit {step.returncode}):\n"
                             f"{_tail(step)}")
        return False

    def verify(self, subject: Subject) -> PackageResult:
        start = time.monotonic()
        result = PackageResult(subject.package, subject.version)
        try:
            self._verify(subject, result)
        finally:
            result.seconds = time.monotonic() - start
        return result

    def _verify(self, subject: Subject, result: PackageResult) -> None:
        ours: list[Path] = []
        for deb in subject.debs:
            try:
                path, report = self.rewriter(deb)
            except UnessentialError as exc:  # the rewrite refused the package: verify says so
                name = read_control(deb).get("Package", deb.name)
                if name == subject.package:
                    result.refused = exc.cause
                    return
                # another package of the closure: Debian's own in B, its scripts run
                result.kept.append(f"{name}: {exc.cause}")
                ours.append(deb)
                continue
            ours.append(path)
            result.rewrites.append(report)
        changes: RelationChanges = {
            r.package: [(c.field, c.relation, c.action) for c in r.relations]
            for r in result.rewrites}
        systems: list[System] = []
        if subject.in_base:
            try:
                self._reinstall(subject, result, ours, changes, systems)
            finally:
                if not self.keep:
                    for system in systems:
                        system.remove()
            return
        try:
            a = System(self.base, self.work, "A")
            b = System(self.base, self.work, "B")
            systems += [a, b]
            ok_a = self._step(result, a, "install of Debian's packages", a.install(subject.debs))
            ok_b = self._step(result, b, "install of the rewritten packages", b.install(ours))
            if not ok_a:
                return
            snap_a = a.snapshot()
            if ok_b:
                self._compare(result, snap_a, b.snapshot(), "B", "install", changes)
            if self.native is not None and not result.kept:  # (bootstrap installs ours only)
                c = System(self.base, self.work, "C")
                systems.append(c)
                try:
                    c.native(self.native, ours, self.log)
                except Exception as exc:  # the installer's own error, named
                    result.errors.append(f"C: native install failed: {exc}")
                else:
                    self._compare(result, snap_a, c.snapshot(), "C", "install", changes)
            if ok_b:
                for scenario, option in (("remove", "--remove"), ("purge", "--purge")):
                    if scenario not in self.scenarios:
                        continue
                    # --force-depends: what else the closure holds may depend on it; the
                    # scenario is about the package's own scripts
                    if not (self._step(result, a, f"dpkg {option}",
                                       a.dpkg("--force-depends", option, subject.package))
                            and self._step(result, b, f"dpkg {option}",
                                           b.dpkg("--force-depends", option,
                                                  subject.package))):
                        break
                    self._compare(result, a.snapshot(), b.snapshot(), "B", scenario, changes)
            if subject.previous and "upgrade" in self.scenarios:
                self._upgrade(subject, result, ours, changes, systems)
        finally:
            if not self.keep:
                for system in systems:
                    system.remove()

    def _reinstall(self, subject: Subject, result: PackageResult, ours: list[Path],
                   changes: RelationChanges, systems: list[System]) -> None:
        a = System(self.base, self.work, "A")
        b = System(self.base, self.work, "B")
        systems += [a, b]
        ok_a = self._step(result, a, "reinstall of Debian's package",
                          dpkg_install(a.layers, subject.debs))
        ok_b = self._step(result, b, "reinstall of the rewritten package",
                          dpkg_install(b.layers, ours))
        if ok_a and ok_b:
            self._compare(result, a.snapshot(), b.snapshot(), "B", "reinstall", changes)

    def _upgrade(self, subject: Subject, result: PackageResult, ours: list[Path],
                 changes: RelationChanges, systems: list[System]) -> None:
        """Debian's previous version (with the rest of the closure: Debian's in A, ours
        in B) installed first, then the new version over it."""
        old = {read_control(p)["Package"] for p in subject.previous}
        keep = [read_control(p)["Package"] not in old for p in subject.debs]
        a = System(self.base, self.work, "A-upgrade")
        b = System(self.base, self.work, "B-upgrade")
        systems += [a, b]
        for system, new in ((a, subject.debs), (b, ours)):
            first = [*subject.previous, *(p for p, k in zip(new, keep, strict=True) if k)]
            if not (self._step(result, system, "install of the previous version",
                               system.install(first))
                    and self._step(result, system, "upgrade",
                                   system.install([*new, *subject.companions]))):
                return
        self._compare(result, a.snapshot(), b.snapshot(), "B", "upgrade", changes)


def clean_work(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
