"""What a build depends on besides its source and recipe: the build environment.

Its digest is part of a build's identity: (source, version, recipe digest, environment
digest). Repacks depend on the architecture, the rewrite engine, the version mark and
the upstream binaries they take (a binNMU is a new build); source builds on the chroot
(codename, mirror, suites, mmdebstrap variant) described by `BuildEnv`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from debian.debian_support import version_compare

from archive.upstream.index import BinaryRecord
from archive.upstream.mirror import DEFAULT_KEYRING, host_codename, resolve_entries
from base import __version__
from base.errors import UnessentialError
from recipes.policy import Policy
from recipes.recipe import RECIPES_DIR, Recipe, load_recipe, recipe_digest
from worker.settings import FarmSettings

if TYPE_CHECKING:
    from worker.build.chroot import BuildEnv

ORIGINS = ("source-build", "repack")


def build_env(settings: FarmSettings, arch: str, suite: str | None = None) -> BuildEnv:
    """The chroot of source builds: the host codename's suite of the upstream mirror,
    and `suite` (where the source came from, e.g. bookworm-security) when it is another
    configured suite of that codename signed by the same keyring."""
    from worker.build.chroot import BuildEnv

    entries = resolve_entries(settings.upstream)
    codename = host_codename() or entries[0].suite
    entry = next((e for e in entries if e.suite == codename), entries[0])
    keyring = entry.signed_by.keyrings[0] if entry.signed_by.keyrings else DEFAULT_KEYRING
    extra: tuple[tuple[str, str], ...] = ()
    origin = next((e for e in entries if e.suite == suite), None)
    if (origin is not None and origin.suite != entry.suite
            and origin.suite.startswith(f"{entry.suite}-")
            and origin.signed_by.keyrings[:1] in ((), (keyring,))):
        extra = ((origin.uri, origin.suite),)
    return BuildEnv(codename=entry.suite, arch=arch, mirror=entry.uri,
                    components=tuple(entry.components or ("main",)), keyring=keyring,
                    extra=extra)


def repack_inputs(records: Iterable[BinaryRecord], source: str, version: str, arch: str
                  ) -> list[BinaryRecord]:
    """The upstream binaries a repack of `source` `version` takes: those built from it for
    `arch` (or all), the highest version of each (a binNMU, `+b1`, over the first build
    when suites hold both), sorted by name."""
    best: dict[tuple[str, str], BinaryRecord] = {}
    for record in records:
        if (record.source != source or record.source_version != version
                or record.architecture not in (arch, "all")):
            continue
        key = (record.package, record.architecture)
        known = best.get(key)
        if known is None or version_compare(record.version, known.version) > 0:
            best[key] = record
    return [best[key] for key in sorted(best)]


def inputs_digest(records: Iterable[BinaryRecord]) -> str:
    """What a repack is made from: the upstream .debs (name, version, SHA256)."""
    text = json.dumps(sorted((r.package, r.version, r.architecture, r.sha256) for r in records))
    return hashlib.sha256(text.encode()).hexdigest()


def env_digest(settings: FarmSettings, origin: str, arch: str, suite: str | None = None,
               inputs: str = "") -> str:
    """The environment part of a build's identity; `inputs` (a repack's): the digest of
    the upstream binaries it takes, so that a binNMU is a new build."""
    inner = build_env(settings, arch, suite).digest() if origin == "source-build" else ""
    described: dict[str, str] = {"origin": origin, "arch": arch, "engine": __version__,
                                 "env": inner, "mark": settings.worker.version_mark}
    if inputs:
        described["inputs"] = inputs
    text = json.dumps(described, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def counter_digest(settings: FarmSettings, origin: str, arch: str,
                   suite: str | None = None) -> str:
    """What a build's version counter is kept by (rewrite.versions): a repack's is the
    same for every architecture and for new upstream binaries of the same source version
    (a binNMU, `+b1`, already makes its versions new), so that the amd64 and arm64
    repacks of one recipe give one version; a source build's is its environment."""
    if origin == "source-build":
        return env_digest(settings, origin, arch, suite)
    described = {"origin": origin, "engine": __version__, "mark": settings.worker.version_mark}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def campaign_recipe(
    policy: Policy, source: str, recipes_dir: Path | None
) -> tuple[Recipe | None, str, str | None]:
    """(recipe, digest, error). A broken recipe does not stop a campaign: the build of
    that source fails with the recipe's error; the digest is then that of its bytes."""
    try:
        recipe = load_recipe(source, recipes_dir)
    except UnessentialError as exc:
        path = (recipes_dir or RECIPES_DIR) / f"{source}.toml"
        raw = path.read_bytes() if path.is_file() else b""
        return None, "broken-" + hashlib.sha256(raw).hexdigest(), str(exc)
    return recipe, recipe_digest(policy, recipe), None
