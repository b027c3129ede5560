"""The CI policy gates: `essential-in-image` (no package of the implicit-essential class)
and `implicit-use` (no implicit run-time use of the essential set left unsatisfied).

The class is the rewrite engine's own (`rewrite.relations.rewrite_relations`
with the policy of `recipes/policy.toml`): a package is in it when a relation on it
would be dropped as `implicit-essential`, that is, it is `Essential: yes` or has one
of the policy's priorities (`required`), and no keep rule saves it (libraries, by
their Section `libs`/`oldlibs`, and the packages the policy keeps by name). Nothing is
listed here a second time: the gate asks the engine about each installed package.

What a package is comes from the upstream Packages index when it is given (our
rewritten packages lose `Essential` and their high `Priority`, so only upstream still
says so) and from the image's own dpkg status stanzas (an image built from Debian
keeps `Essential: yes`): either is enough to be in the class, which lets the gate run
offline on such images.

`implicit-use` reads what `bootstrap` found when it built the image: each package's
dpkg status stanza lists, in `Unessential-Unsatisfied-Uses`, the files of the package
that run a program the image does not hold (a shebang interpreter, the shell of
system(), an absolute path of an essential program), one "KIND NEEDS PATH" per line.
The gate fails on any such line; it needs neither the network nor the catalog.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from archive.upstream.index import BinaryRecord
from audit.image import ImageStatus
from base.deb822 import iter_stanzas
from base.errors import FormatError
from bootstrap.installer import UNSATISFIED_FIELD
from recipes.policy import REASON_IMPLICIT, Policy
from rewrite.relations import Universe, rewrite_relations

GATE_ESSENTIAL = "essential-in-image"
GATE_IMPLICIT_USE = "implicit-use"
GATES = (GATE_ESSENTIAL, GATE_IMPLICIT_USE)
_ABSENT = ("not-installed", "config-files")


@dataclass(frozen=True)
class Installed:
    """A package installed in an image, as its dpkg status stanza says."""

    name: str
    version: str
    architecture: str
    essential: bool
    priority: str
    section: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Offender:
    """An installed package of the implicit-essential class, and why it is one."""

    image: str
    name: str
    version: str
    architecture: str
    mark: str  # "Essential: yes" or "Priority: required"
    where: str  # "image status" or "upstream index"

    @property
    def why(self) -> str:
        return f"{self.mark} in the {self.where}"

    def line(self) -> str:
        return (f"{self.image}: {self.name} {self.version} ({self.architecture}) is "
                f"implicit-essential: {self.why}")


@dataclass(frozen=True)
class GateResult:
    """The verdict on one image: its installed packages and the offenders among them."""

    image: str
    format: str
    packages: int
    offenders: tuple[Offender, ...]
    upstream: bool  # the upstream index was consulted


def installed_packages(status: str, what: str) -> list[Installed]:
    """The packages a dpkg status file lists as present (not removed, not config-files)."""
    out = []
    try:
        stanzas = list(iter_stanzas(status))
    except ValueError as exc:
        raise FormatError(f"{what}: var/lib/dpkg/status", str(exc)) from exc
    for stanza in stanzas:
        words = stanza.get("Status", "").split()
        if "Package" not in stanza or (words and words[-1] in _ABSENT):
            continue
        out.append(Installed(
            name=stanza["Package"], version=stanza.get("Version", ""),
            architecture=stanza.get("Architecture", ""),
            essential=stanza.get("Essential", "no") == "yes",
            priority=stanza.get("Priority", ""),
            section=stanza.get("Section", "").rpartition("/")[2], fields=dict(stanza)))
    return sorted(out, key=lambda p: (p.name, p.architecture))


def image_architecture(packages: Iterable[Installed]) -> str | None:
    """The architecture most of the image's packages are built for (None: only `all`)."""
    counts = Counter(p.architecture for p in packages if p.architecture not in ("", "all"))
    return counts.most_common(1)[0][0] if counts else None


def _record(package: Installed) -> BinaryRecord:
    return BinaryRecord(package=package.name, version=package.version,
                        architecture=package.architecture, source=package.name,
                        source_version=package.version, filename="", size=0, sha256="",
                        essential=package.essential, priority=package.priority,
                        fields=package.fields)


def in_class(name: str, universe: Universe, policy: Policy) -> bool:
    """Whether the rewrite engine would drop a relation on `name` as implicit-essential."""
    field = policy.fields[0]
    _, changes = rewrite_relations({field: name}, universe, policy, None, False)
    return any(c.action == "dropped" and c.reason == REASON_IMPLICIT for c in changes)


def check_image(image: ImageStatus[str], policy: Policy,
                upstream: list[BinaryRecord] | None) -> GateResult:
    """Judge one image: upstream records (if any) and its own status stanzas."""
    packages = installed_packages(image.text, image.label)
    own = [_record(p) for p in packages]
    universe = Universe.from_records([*(upstream or []), *own],
                                     policy.implicit_essential.priorities)
    priorities = set(policy.implicit_essential.priorities)
    offenders = []
    for package in packages:
        if not in_class(package.name, universe, policy):
            continue
        if package.essential:
            mark, where = "Essential: yes", "image status"
        elif package.priority in priorities:
            mark, where = f"Priority: {package.priority}", "image status"
        else:
            mark, where = universe.marks.get(package.name, "implicit-essential"), \
                "upstream index"
        offenders.append(Offender(image.label, package.name, package.version,
                                  package.architecture, mark, where))
    return GateResult(image.label, image.format, len(packages), tuple(offenders),
                      upstream is not None)


@dataclass(frozen=True)
class UnsatisfiedUse:
    """A file of an installed package that runs a program the image does not hold."""

    image: str
    package: str
    version: str
    kind: str
    needs: str
    path: str

    def line(self) -> str:
        return (f"{self.image}: {self.package} {self.version}: {self.path} needs "
                f"{self.needs} ({self.kind}), not in the image")


@dataclass(frozen=True)
class UsesResult:
    """The verdict of the implicit-use gate on one image."""

    image: str
    format: str
    packages: int
    uses: tuple[UnsatisfiedUse, ...]


def check_implicit_uses(image: ImageStatus[str]) -> UsesResult:
    """The unsatisfied implicit uses bootstrap recorded in the image's dpkg status."""
    packages = installed_packages(image.text, image.label)
    uses = []
    for package in packages:
        for line in package.fields.get(UNSATISFIED_FIELD, "").split("\n"):
            words = line.strip().split(" ", 2)
            if not words[0]:
                continue
            kind, needs, path = words if len(words) == 3 else ("?", line.strip(), "?")
            uses.append(UnsatisfiedUse(image.label, package.name, package.version,
                                       _shown(kind), _shown(needs), _shown(path)))
    return UsesResult(image.label, image.format, len(packages), tuple(uses))


def _shown(text: str) -> str:
    """Escape control characters: the status is untrusted input that reaches a terminal."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
