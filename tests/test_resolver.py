"""The bootstrap resolver: Debian relations over hand-made and real Packages records."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from archive.upstream.index import BinaryRecord, parse_packages
from bootstrap.resolver import Resolution, ResolveError, resolve, version_matches, why

SLICE = Path(__file__).parent / "golden" / "bookworm-Packages-slice.xz"


def rec(name: str, version: str = "1.0", arch: str = "amd64", **fields: str) -> BinaryRecord:
    """A record; keyword fields use `_` for `-` (Pre_Depends -> Pre-Depends)."""
    stanza = {"Package": name, "Version": version, "Architecture": arch}
    stanza.update({key.replace("_", "-"): value for key, value in fields.items()})
    return BinaryRecord(
        package=name, version=version, architecture=arch, source=name, source_version=version,
        filename=f"pool/main/{name[0]}/{name}/{name}_{version}_{arch}.deb", size=1,
        sha256="0" * 64, essential=stanza.get("Essential") == "yes",
        priority=stanza.get("Priority", "optional"), fields=stanza,
    )


def names(resolution: Resolution) -> set[str]:
    return {record.package for record in resolution.packages}


def run(records: list[BinaryRecord], *roots: str, **kwargs: bool) -> Resolution:
    return resolve(records, list(roots), arch="amd64", **kwargs)


@pytest.mark.parametrize(
    ("op", "wanted", "ok"),
    [
        ("<<", "2.0", True), ("<<", "1.0", False),
        ("<=", "1.0", True), ("<=", "0.9", False),
        ("=", "1.0", True), ("=", "1.0-1", False),
        (">=", "1.0", True), (">=", "1.0.1", False),
        (">>", "1.0~rc1", True), (">>", "1.0", False),
    ],
)
def test_versioned_relations_each_operator(op: str, wanted: str, ok: bool) -> None:
    records = [rec("app", Depends=f"lib ({op} {wanted})"), rec("lib", "1.0")]
    assert version_matches("1.0", op, wanted) is ok
    if ok:
        assert names(run(records, "app")) == {"app", "lib"}
    else:
        with pytest.raises(ResolveError) as info:
            run(records, "app")
        assert info.value.chain == [
            "app", f"app Depends lib ({op} {wanted})", "no candidate: available 1.0"
        ]
        assert "app" in str(info.value) and "\n" not in str(info.value)


def test_candidate_is_highest_version_of_native_or_all() -> None:
    records = [
        rec("app", Depends="lib (>= 2)"), rec("lib", "2.0"), rec("lib", "10.0", arch="all"),
        rec("lib", "99", arch="arm64"),
    ]
    (lib,) = [r for r in run(records, "app").packages if r.package == "lib"]
    assert lib.version == "10.0"


def test_root_with_version_pins_it() -> None:
    records = [rec("lib", "1.0"), rec("lib", "2.0")]
    (only,) = run(records, "lib=1.0").packages
    assert only.version == "1.0"


def test_alternative_first_unavailable() -> None:
    records = [rec("app", Depends="gone | also-gone (>= 1) | here"), rec("here")]
    resolution = run(records, "app")
    assert names(resolution) == {"app", "here"}
    assert resolution.why["here"] == ["app", "app Depends gone | also-gone (>= 1) | here"]


def test_alternative_already_in_closure_is_kept() -> None:
    records = [rec("app", Depends="first | second, second"), rec("first"), rec("second")]
    assert names(run(records, "app")) == {"app", "first", "second"}
    records = [rec("app", Depends="second, first | second"), rec("first"), rec("second")]
    assert names(run(records, "app")) == {"app", "second"}


def test_backtracking_over_alternatives_avoids_a_conflict() -> None:
    records = [
        rec("app", Depends="tool-a | tool-b, other"),
        rec("tool-a", Depends="helper"),
        rec("helper"),
        rec("tool-b"),
        rec("other", Conflicts="helper"),
    ]
    assert names(run(records, "app")) == {"app", "tool-b", "other"}


def test_conflict_without_way_out_explains() -> None:
    records = [rec("app", Depends="a, b"), rec("a"), rec("b", Conflicts="a")]
    with pytest.raises(ResolveError) as info:
        run(records, "app")
    assert info.value.chain[:2] == ["app", "app Depends b"]
    assert "b 1.0 Conflicts a" in info.value.chain[-1]


def test_virtual_package_single_provider() -> None:
    records = [rec("app", Depends="mta"), rec("exim", Provides="mta")]
    resolution = run(records, "app")
    assert names(resolution) == {"app", "exim"}
    assert why(resolution, "exim") == ["app", "app Depends mta (provided by exim)"]


def test_virtual_package_several_providers_rule() -> None:
    # apt's rank (below), unless one is already in the closure.
    records = [rec("app", Depends="mta"), rec("exim", Provides="mta", Priority="optional"),
               rec("postfix", Provides="mta", Priority="standard")]
    assert names(run(records, "app")) == {"app", "postfix"}
    records.append(rec("app2", Depends="exim, mta"))
    assert names(run(records, "app2")) == {"app2", "exim"}
    # A real package of that name is preferred to providers.
    records.append(rec("mta", Priority="extra"))
    assert names(run(records, "app")) == {"app", "mta"}


@pytest.mark.parametrize(
    ("fields", "chosen"),
    [
        # Priority: required < important < standard < optional < extra (bookworm's awk)
        ({"gawk": {}, "mawk": {"Priority": "required"}, "original-awk": {}}, "mawk"),
        # Essential beats Priority, Important (or Protected) beats Priority
        ({"a": {"Priority": "required"}, "b": {"Essential": "yes"}}, "b"),
        ({"a": {"Priority": "required"}, "b": {"Protected": "yes"}}, "b"),
        ({"a": {"Priority": "required"}, "b": {"Important": "yes"}}, "b"),
        # as in apt, a record without Priority ranks before any Priority
        ({"a": {"Priority": "required"}, "b": {"Priority": None}}, "b"),
    ],
)
def test_providers_ranked_like_apt(fields: dict[str, dict[str, str | None]],
                                   chosen: str) -> None:
    records = [rec("app", Depends="awk")]
    for name, extra in fields.items():
        stanza = {"Priority": "optional", **extra, "Provides": "awk"}
        records.append(rec(name, **{k: v for k, v in stanza.items() if v is not None}))
    resolution = run(records, "app")
    assert names(resolution) == {"app", chosen}
    assert resolution.why[chosen] == ["app", f"app Depends awk (provided by {chosen})"]


def test_provider_tie_broken_by_apt_package_id() -> None:
    """Equal rank: apt takes the package its cache created last (highest ID).

    apt creates a package when it first meets its name in the Packages records, in
    its own stanza or in a relation or Provides of an earlier stanza.
    """
    providers = [rec(name, Provides="phpapi", Priority="optional")
                 for name in ("libapache2-mod-php", "php-cli", "php-phpdbg")]
    app = rec("app", Depends="phpapi")
    assert names(run([app, *providers], "app")) == {"app", "php-phpdbg"}
    # named by an earlier stanza: php-phpdbg is now the oldest package of the three
    early = rec("early", Suggests="php-phpdbg")
    assert names(run([early, app, *providers], "app")) == {"app", "php-cli"}
    # `name:any` is another package in apt's cache: it does not count
    early = rec("early", Suggests="php-phpdbg:any")
    assert names(run([early, app, *providers], "app")) == {"app", "php-phpdbg"}


def test_relations_followed_depth_first_like_apt() -> None:
    # one's subtree pulls y before two's `x | y` is reached: x is not needed (apt agrees);
    # breadth first, `x | y` would be settled before y arrives and take x as well
    records = [rec("app", Depends="one, two"), rec("one", Depends="deep"),
               rec("deep", Depends="y"), rec("two", Depends="x | y"), rec("x"), rec("y")]
    resolution = run(records, "app")
    assert names(resolution) == {"app", "one", "deep", "y", "two"}
    assert resolution.why["y"] == ["app", "app Depends two", "two Depends x | y"]
    # Pre-Depends of a package are followed before its Depends, as apt does
    records = [rec("app", Pre_Depends="pre", Depends="x | y"), rec("pre", Depends="y"),
               rec("x"), rec("y")]
    assert names(run(records, "app")) == {"app", "pre", "y"}


def test_backtracking_after_depth_first_steps() -> None:
    # the first option of `tool-a | tool-b` fails deep in its subtree, after other
    # relations were inserted behind it: the search restores them and takes tool-b
    records = [
        rec("app", Depends="tool-a | tool-b, other"),
        rec("tool-a", Depends="helper"), rec("helper", Depends="gone"),
        rec("tool-b", Depends="lib"), rec("lib"), rec("other", Depends="lib"),
    ]
    resolution = run(records, "app")
    assert names(resolution) == {"app", "tool-b", "lib", "other"}


def test_virtual_root() -> None:
    records = [rec("exim", Provides="mta")]
    resolution = run(records, "mta")
    assert names(resolution) == {"exim"}
    assert resolution.why["exim"] == ["mta (provided by exim)"]


def test_versioned_provides() -> None:
    records = [rec("app", Depends="api (>= 2)"), rec("old", Provides="api (= 1)"),
               rec("new", Provides="api (= 2.1)"), rec("plain", Provides="api")]
    assert names(run(records, "app")) == {"app", "new"}
    # An unversioned Provides satisfies unversioned relations only.
    records = [rec("app", Depends="api (>= 2)"), rec("plain", Provides="api")]
    with pytest.raises(ResolveError, match="none matching api"):
        run(records, "app")
    assert names(run([rec("app", Depends="api"), rec("plain", Provides="api")], "app")) == {
        "app", "plain"
    }


@pytest.mark.parametrize("field", ["Conflicts", "Breaks"])
def test_conflicts_both_directions(field: str) -> None:
    forward = [rec("app", Depends="a, b"), rec("a"), rec("b", **{field: "a"})]
    backward = [rec("app", Depends="b, a"), rec("a"), rec("b", **{field: "a"})]
    for records in (forward, backward):
        with pytest.raises(ResolveError):
            run(records, "app")


def test_conflicts_respect_versions() -> None:
    records = [rec("app", Depends="a, b"), rec("a", "2.0"), rec("b", Breaks="a (<< 2.0)")]
    assert names(run(records, "app")) == {"app", "a", "b"}
    records = [rec("app", Depends="a, b"), rec("a", "1.5"), rec("b", Breaks="a (<< 2.0)")]
    with pytest.raises(ResolveError):
        run(records, "app")


def test_conflict_through_provides() -> None:
    records = [rec("app", Depends="a, b"), rec("a", Provides="mta"),
               rec("b", Conflicts="mta", Provides="mta")]
    with pytest.raises(ResolveError):
        run(records, "app")


def test_self_conflict_via_provides_is_ignored() -> None:
    records = [rec("app", Depends="exim"),
               rec("exim", Provides="mta", Conflicts="mta", Replaces="mta")]
    assert names(run(records, "app")) == {"app", "exim"}


def test_pre_depends_order() -> None:
    records = [rec("app", Pre_Depends="zlib", Depends="base"), rec("zlib", Pre_Depends="core"),
               rec("core"), rec("base")]
    order = [r.package for r in run(records, "app").packages]
    assert order.index("core") < order.index("zlib") < order.index("app")
    assert order == ["base", "core", "zlib", "app"]


def test_missing_package_chain() -> None:
    records = [
        rec("python3", Depends="python3.11 (>= 3.11.2-1~)"),
        rec("python3.11", "3.11.2-6", Depends="libpython3.11-stdlib (= 3.11.2-6)"),
        rec("libpython3.11-stdlib", "3.11.2-5"),
    ]
    with pytest.raises(ResolveError) as info:
        run(records, "python3")
    assert info.value.chain == [
        "python3",
        "python3 Depends python3.11 (>= 3.11.2-1~)",
        "python3.11 Depends libpython3.11-stdlib (= 3.11.2-6)",
        "no candidate: available 3.11.2-5",
    ]
    assert str(info.value).startswith("python3.11: ")
    with pytest.raises(ResolveError, match="nothere is not available"):
        run(records, "nothere")


def test_cycle() -> None:
    records = [rec("a", Depends="b"), rec("b", Depends="a")]
    resolution = run(records, "a")
    assert [r.package for r in resolution.packages] == ["a", "b"]
    assert resolution.why == {"a": ["a"], "b": ["a", "a Depends b"]}


def test_essential_and_priority_ignored() -> None:
    records = [rec("app"), rec("base-files", Essential="yes", Priority="required"),
               rec("dash", Essential="yes", Priority="required")]
    assert names(run(records, "app")) == {"app"}
    records.append(rec("app2", Depends="dash"))
    assert names(run(records, "app2")) == {"app2", "dash"}


def test_recommends_only_when_asked_and_never_fatal() -> None:
    records = [rec("app", Recommends="extra, missing"), rec("extra")]
    assert names(run(records, "app")) == {"app"}
    assert names(run(records, "app", with_recommends=True)) == {"app", "extra"}


def test_arch_qualifiers() -> None:
    records = [rec("app", Depends="python3:any, libc:amd64"), rec("python3"),
               rec("libc", arch="amd64")]
    assert names(run(records, "app")) == {"app", "python3", "libc"}
    with pytest.raises(ResolveError, match="architecture qualifier"):
        run([rec("app", Depends="libc:arm64"), rec("libc")], "app")


def test_why_is_shortest_chain() -> None:
    records = [rec("app", Depends="a, b"), rec("a", Depends="c"), rec("c", Depends="b"),
               rec("b", Depends="libssl3"), rec("libssl3")]
    resolution = run(records, "app")
    assert why(resolution, "libssl3") == ["app", "app Depends b", "b Depends libssl3"]
    assert resolution.why["c"] == ["app", "app Depends a", "a Depends c"]
    with pytest.raises(ResolveError):
        why(resolution, "nothere")


def test_golden_slice() -> None:
    records = parse_packages(lzma.decompress(SLICE.read_bytes()).decode(), str(SLICE))
    resolution = resolve(records, ["afl-doc"], arch="amd64")
    assert [(r.package, r.version) for r in resolution.packages] == [
        ("afl++-doc", "4.04c-4"), ("afl-doc", "4.04c-4"),
    ]
    assert resolution.why["afl++-doc"] == ["afl-doc", "afl-doc Depends afl++-doc"]
    with pytest.raises(ResolveError) as info:
        resolve(records, ["python3-lib389"], arch="amd64")
    assert info.value.chain[0] == "python3-lib389"
    assert info.value.chain[-1].startswith("no candidate: ")
