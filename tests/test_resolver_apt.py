"""Our resolver against stock apt on the host's mirror (marked `network`).

Both read the same signed Packages (the host's main suite, component main, host
architecture): ours through `archive.upstream.mirror.Upstream`, apt through its own
`apt-get update` in a private directory (tests/fixtures/apt.py). For each target,
`apt-get -s install --no-install-recommends TARGET` with an empty dpkg status is
compared, name and version, with `resolve(records, [TARGET])`.

"Minus what apt adds for Essential": measured, not assumed. With an empty status,
`apt-get install` adds nothing for Essential: it installs exactly the dependency
closure of what it is asked for (it is `dist-upgrade` that marks every Essential
package). So the set subtracted is empty; an Essential or required package that apt
installs here is one that a relation asks for, and we install it too, since we imply
nothing (e.g. `perl-base` for `ack-grep`, `dpkg` for many).

Every difference found while writing this test was a difference of choice, fixed in
the resolver: apt ranks the providers of a virtual name (Essential, Important, Priority,
then the package its cache created last) and follows relations depth first. The one
difference left, a virtual root with several providers (apt refuses it), has its own test;
a difference that comes back belongs in `EXPECTED_DIFFERENCES` with its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypedDict

import pytest

from archive.settings import UpstreamSettings
from archive.upstream.aptsources import SourceEntry
from archive.upstream.index import BinaryRecord
from archive.upstream.mirror import (
    DEFAULT_KEYRING,
    Upstream,
    host_architecture,
    host_codename,
    resolve_entries,
)
from bootstrap.resolver import ResolveError, resolve
from tests.fixtures.apt import PrivateApt

pytestmark = pytest.mark.network

# Real targets. The first group is everyday software; the second was chosen because
# each exercises a choice where apt's rules matter (see `WHY_CHOSEN`).
TARGETS = (
    "hello", "python3", "curl", "openssl", "ca-certificates", "tzdata", "git", "nginx-light",
    "postgresql-client-15", "libssl3", "zstd", "busybox", "jq", "less", "vim-tiny",
    "openssh-client", "ack-grep",
    "base-files", "fwupd", "timeshift", "php-json", "libtesseract-dev", "sa-exim", "pitivi",
)
WHY_CHOSEN = {
    "ack-grep": "a virtual root with one provider (ack): apt selects it, so do we",
    "base-files": "Depends awk, provided by gawk, mawk, original-awk: apt takes mawk"
                  " (Priority required) over the alphabetical first",
    "fwupd": "systemd-sysusers, provided by opensysusers, systemd and"
             " systemd-standalone-sysusers: apt takes systemd (Priority important)",
    "timeshift": "cron-daemon: apt takes cron (Priority important) over bcron",
    "php-json": "phpapi-20220829, six optional providers: apt takes the one its cache created"
                " last (php8.2-phpdbg), not the alphabetical first (libapache2-mod-php8.2)",
    "libtesseract-dev": "libcurl4-dev, three optional providers: the same tie-break",
    "sa-exim": "exim4-localscanapi-6.0, two optional providers: the same tie-break",
    "pitivi": "depth-first order: libsoup-3.0-0 is pulled in before gstreamer1.0-plugins-good's"
              " `libsoup2.4-1 | libsoup-3.0-0` is reached, so libsoup2.4-1 is not needed",
}


class Difference(TypedDict):
    only_apt: set[str]
    only_ours: set[str]
    why: str


# target -> what apt and we disagree on, and why. Empty: every difference found was
# fixed in the resolver (see the module text); one that comes back must be explained here.
EXPECTED_DIFFERENCES: dict[str, Difference] = {}

# Measured by `test_apt_adds_nothing_for_essential_with_an_empty_status`.
ADDED_BY_APT_FOR_ESSENTIAL: frozenset[str] = frozenset()

INST = re.compile(r"^Inst (\S+) \((\S+) ")


@dataclass
class Mirror:
    entry: SourceEntry
    arch: str
    records: list[BinaryRecord]
    inrelease: bytes


def main_entry() -> SourceEntry:
    """The host's entry for its main suite (the codename), component main."""
    entries = resolve_entries(UpstreamSettings(components=["main"]))
    codename = host_codename()
    for entry in entries:
        if entry.suite == codename and "main" in entry.components:
            return entry
    return next(e for e in entries if "main" in e.components)


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Mirror:
    entry = main_entry()
    arch = host_architecture()
    data = tmp_path_factory.mktemp("upstream-data")
    settings = UpstreamSettings(suites=[entry.suite], components=["main"], architectures=[arch])
    with Upstream(data, settings) as upstream:
        records = [record for suite, record in upstream.packages(arch)
                   if suite.entry.uri == entry.uri]
    cached = upstream.cache.load_release(entry.uri, entry.suite)
    assert cached is not None and cached[0]["release"] == "InRelease"
    assert len(records) > 10_000
    return Mirror(entry=entry, arch=arch, records=records, inrelease=cached[1])


@pytest.fixture(scope="session")
def apt(tmp_path_factory: pytest.TempPathFactory, mirror: Mirror) -> PrivateApt:
    keyrings = mirror.entry.signed_by.keyrings
    private = PrivateApt(tmp_path_factory.mktemp("apt"), mirror.entry.uri, mirror.entry.suite,
                         keyrings[0] if keyrings else DEFAULT_KEYRING, arch=mirror.arch)
    result = private.update()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    # the same archive: apt verified and kept the very InRelease our reader verified
    (inrelease,) = (private.root / "state" / "lists").glob("*_InRelease")
    assert inrelease.read_bytes() == mirror.inrelease, "the mirror changed between the reads"
    return private


def apt_installs(apt: PrivateApt, *args: str) -> dict[str, str]:
    """name -> version of the `Inst` lines of a simulation against an empty status."""
    status = apt.target / "var/lib/dpkg/status"
    assert status.read_bytes() == b"", "the private dpkg status must stay empty"
    result = apt.run("-s", *args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert not re.search(r"^(Remv|Purg) ", result.stdout, re.M)
    found = (INST.match(line) for line in result.stdout.splitlines())
    return {m[1].split(":")[0]: m[2] for m in found if m}


def ours(mirror: Mirror, target: str) -> dict[str, str]:
    resolution = resolve(mirror.records, [target], arch=mirror.arch)
    return {record.package: record.version for record in resolution.packages}


def essential_or_required(mirror: Mirror) -> set[str]:
    return {r.package for r in mirror.records if r.essential or r.priority == "required"}


def test_enough_real_targets_are_compared() -> None:
    assert len(set(TARGETS)) == len(TARGETS)
    assert len([t for t in TARGETS if t not in EXPECTED_DIFFERENCES]) >= 10
    assert set(WHY_CHOSEN) <= set(TARGETS)
    for target, difference in EXPECTED_DIFFERENCES.items():
        assert target in TARGETS and difference["why"].strip()


def test_apt_adds_nothing_for_essential_with_an_empty_status(apt: PrivateApt,
                                                            mirror: Mirror) -> None:
    # hello needs libc6 and what libc6 needs: none of it Essential
    installed = apt_installs(apt, "install", "--no-install-recommends", "hello")
    closure = ours(mirror, "hello")
    added = set(installed) - set(closure)
    assert added <= essential_or_required(mirror), "apt added something that is not Essential"
    assert added == set(ADDED_BY_APT_FOR_ESSENTIAL)
    essential = {r.package for r in mirror.records if r.essential}
    assert essential and not essential & set(installed)
    # what adding for Essential looks like: dist-upgrade on an empty status marks them all
    upgraded = apt_installs(apt, "dist-upgrade")
    assert essential <= set(upgraded)
    assert not essential <= set(ours(mirror, "hello")), "we imply nothing"


@pytest.mark.parametrize("target", TARGETS)
def test_resolver_agrees_with_apt(apt: PrivateApt, mirror: Mirror, target: str) -> None:
    theirs = apt_installs(apt, "install", "--no-install-recommends", target)
    for name in ADDED_BY_APT_FOR_ESSENTIAL:
        theirs.pop(name, None)
    mine = ours(mirror, target)
    expected = EXPECTED_DIFFERENCES.get(target, Difference(only_apt=set(), only_ours=set(),
                                                           why=""))
    assert (set(theirs) - set(mine), set(mine) - set(theirs)) == (
        expected["only_apt"], expected["only_ours"]
    ), WHY_CHOSEN.get(target, "")
    versions = {n: (theirs[n], mine[n]) for n in set(theirs) & set(mine) if theirs[n] != mine[n]}
    assert versions == {}


def test_virtual_root_with_several_providers_differs(apt: PrivateApt, mirror: Mirror) -> None:
    """A documented difference: `apt-get install awk` refuses to choose; we do not.

    apt ranks providers only when a dependency names a virtual package; a command line
    naming one with several providers is an error ("has no installation candidate").
    We apply the dependency rule to the root too, so `awk` gives the provider apt
    itself picks for base-files' `Depends: awk`.
    """
    result = apt.run("-s", "install", "--no-install-recommends", "awk")
    assert result.returncode != 0
    assert "is a virtual package provided by" in result.stdout + result.stderr
    providers = {r.package for r in mirror.records
                 if re.search(r"(^|,)\s*awk\s*(,|$|\()", r.fields.get("Provides", ""))}
    assert len(providers) > 1
    mine = ours(mirror, "awk")
    (chosen,) = providers & set(mine)
    assert chosen in apt_installs(apt, "install", "--no-install-recommends", "base-files")


def test_unknown_target_fails_in_both(apt: PrivateApt, mirror: Mirror) -> None:
    result = apt.run("-s", "install", "no-such-package-here")
    assert result.returncode != 0
    with pytest.raises(ResolveError, match="not available"):
        ours(mirror, "no-such-package-here")

