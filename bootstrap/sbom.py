"""SBOMs of an image's packages: SPDX 2.3 JSON and CycloneDX 1.5 JSON.

Deterministic: packages sorted by (name, architecture, version), identifiers derived
from the inputs (namespace and serial number from a caller-given seed), timestamps only
from the ``created`` argument. Package URLs follow the purl ``deb`` type
(``pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64&distro=debian-12``), plus an
``upstream`` qualifier naming the source package, with its version where that differs
(as Syft writes it: ``upstream=attr%401:2.4.47-2``).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from base import __version__
from bootstrap.identity import Identity
from bootstrap.layer import atomic_writer, os_errors
from bootstrap.model import InstalledPackage
from bootstrap.oci import rfc3339

NOASSERTION = "NOASSERTION"
TOOL = f"unessential-{__version__}"
NAMESPACE_BASE = "https://unessential.invalid/spdx"
_SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://unessential.invalid/cyclonedx")
_MAINTAINER = re.compile(r"^\s*(?P<name>[^<]*?)\s*<(?P<email>[^>]*)>\s*$")


# ---------------------------------------------------------------------------------
# shared


def purl(package: InstalledPackage, identity: Identity | None = None) -> str:
    """The package URL of a binary .deb (purl spec, type ``deb``), as Syft computes it
    for the image: namespace and ``distro`` from its os-release (``debian``,
    ``debian-12``); without one, ``debian`` and the archive's suite."""
    qualifiers = {"arch": package.architecture,
                  "distro": identity.distro if identity else package.suite}
    upstream = _upstream(package)
    if upstream:
        qualifiers["upstream"] = upstream
    query = "&".join(f"{key}={_encode(value)}" for key, value in sorted(qualifiers.items())
                     if value)
    name = _encode(package.name.lower())
    namespace = _encode(identity.id) if identity else "debian"
    return (f"pkg:deb/{namespace}/{name}@{_encode(package.version)}"
            + (f"?{query}" if query else ""))


def _upstream(package: InstalledPackage) -> str:
    """The ``upstream`` qualifier as Syft writes it from the dpkg status: the Source
    field's name, with ``@version`` where the field has one; none without the field
    (a package whose source has its name and version)."""
    field = package.source_field or (package.source if package.source != package.name
                                     else "")
    name, _, rest = field.partition("(")
    version = rest.rstrip(") ").strip()
    return f"{name.strip()}@{version}" if version else name.strip()


def _encode(text: str) -> str:
    """Percent-encode a purl component; ':' stays (as in ``1:2.4.47-2``), '+' is %2B."""
    return quote(text, safe=":")


def download_location(package: InstalledPackage) -> str:
    """The URL of the .deb: archive base URL + pool path (percent-encoded)."""
    path = quote(package.filename.lstrip("/"), safe="/+:")
    return f"{package.archive.rstrip('/')}/{path}"


def _spdx_location(package: InstalledPackage) -> str:
    """SPDX's downloadLocation: a URL of a scheme the specification admits (http, https,
    ftp...); an archive read from a directory (file:) has NOASSERTION (SPDX 2.3 7.7)."""
    url = download_location(package)
    return url if url.startswith(("http://", "https://", "ftp://")) else NOASSERTION


def _sorted(packages: list[InstalledPackage]) -> list[InstalledPackage]:
    return sorted(packages, key=lambda p: (p.name, p.architecture, p.version))


# ---------------------------------------------------------------------------------
# SPDX 2.3


def spdx_json(packages: list[InstalledPackage], *, image_name: str, created: int,
              namespace_seed: str, identity: Identity | None = None,
              path_filters: Sequence[str] = ()) -> dict[str, object]:
    """An SPDX 2.3 document: the image as root package, containing every package (and
    the operating system its os-release names); the path filters the image was made
    with in the creation comment, each package's left-out files in its comment."""
    root_id = "SPDXRef-Image"
    entries = [_spdx_package(p, identity) for p in _sorted(packages)]
    if identity is not None:
        entries.insert(0, _spdx_os(identity))
    relationships = [_relation("SPDXRef-DOCUMENT", "DESCRIBES", root_id)]
    relationships += [_relation(root_id, "CONTAINS", str(e["SPDXID"])) for e in entries]
    seed = hashlib.sha256(namespace_seed.encode()).hexdigest()
    creation: dict[str, object] = {"created": rfc3339(created), "creators": [f"Tool: {TOOL}"]}
    if path_filters:
        creation["comment"] = "dpkg path filters of the image: " + ", ".join(path_filters)
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": image_name,
        "documentNamespace": f"{NAMESPACE_BASE}/{_slug(image_name)}-{seed}",
        "creationInfo": creation,
        "packages": [_spdx_root(root_id, image_name), *entries],
        "relationships": relationships,
    }


def _spdx_os(identity: Identity) -> dict[str, object]:
    entry: dict[str, object] = {
        "SPDXID": f"SPDXRef-OperatingSystem-{_slug(identity.distro)}",
        "name": identity.id,
        "versionInfo": identity.version_id or NOASSERTION,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "primaryPackagePurpose": "OPERATING-SYSTEM",
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
    }
    if identity.pretty_name:
        entry["description"] = identity.pretty_name
    return entry


def _spdx_root(spdx_id: str, image_name: str) -> dict[str, object]:
    return {
        "SPDXID": spdx_id,
        "name": image_name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "primaryPackagePurpose": "CONTAINER",
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
    }


def _spdx_package(package: InstalledPackage, identity: Identity | None = None) \
        -> dict[str, object]:
    entry: dict[str, object] = {
        "SPDXID": spdx_id(package),
        "name": package.name,
        "versionInfo": package.version,
        "supplier": _supplier(package.maintainer),
        "downloadLocation": _spdx_location(package),
        "filesAnalyzed": False,
        "checksums": [{"algorithm": algorithm, "checksumValue": value}
                      for algorithm, value in _hashes(package)],
        "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                          "referenceLocator": purl(package, identity)}],
        "sourceInfo": f"built package from: {package.source} {package.source_version}",
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
    }
    if package.homepage:
        entry["homepage"] = package.homepage
    if package.description:
        entry["summary"] = package.description
    if package.left_out:
        entry["comment"] = (f"{package.left_out} paths of the package left out by the "
                            "image's path filters")
    return entry


def spdx_id(package: InstalledPackage) -> str:
    """A unique SPDX id: readable name part ([A-Za-z0-9.-] only) + hash of name/arch/version."""
    key = f"{package.name}\0{package.architecture}\0{package.version}".encode()
    return (f"SPDXRef-Package-deb-{_slug(package.name)}-{package.architecture}-"
            f"{hashlib.sha256(key).hexdigest()[:16]}")


def _supplier(maintainer: str) -> str:
    """"Organization: Name (email)" from a Debian "Name <email>" field, or NOASSERTION."""
    if not maintainer.strip():
        return NOASSERTION
    match = _MAINTAINER.match(maintainer)
    if match is None:
        return f"Organization: {maintainer.strip()}"
    return f"Organization: {match['name']} ({match['email']})"


def _hashes(package: InstalledPackage) -> list[tuple[str, str]]:
    found = [("SHA256", package.sha256), ("MD5", package.md5), ("SHA512", package.sha512)]
    return [(algorithm, value.lower()) for algorithm, value in found if value]


def _relation(element: str, kind: str, related: str) -> dict[str, str]:
    return {"spdxElementId": element, "relationshipType": kind,
            "relatedSpdxElement": related}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-") or "image"


# ---------------------------------------------------------------------------------
# CycloneDX 1.5


_CDX_HASH = {"SHA256": "SHA-256", "MD5": "MD5", "SHA512": "SHA-512"}


def cyclonedx_json(packages: list[InstalledPackage], *, image_name: str, created: int,
                   serial_seed: str, identity: Identity | None = None,
                   path_filters: Sequence[str] = ()) -> dict[str, object]:
    """A CycloneDX 1.5 BOM: the image as metadata component, packages as libraries, the
    operating system its os-release names; path filters as metadata properties."""
    serial = uuid.uuid5(_SERIAL_NAMESPACE, serial_seed)
    components = [_cdx_component(p, identity) for p in _sorted(packages)]
    if identity is not None:
        system: dict[str, object] = {"type": "operating-system", "name": identity.id,
                                     "bom-ref": f"os:{identity.distro}"}
        if identity.version_id:
            system["version"] = identity.version_id
        if identity.pretty_name:
            system["description"] = identity.pretty_name
        components.insert(0, system)
    metadata: dict[str, object] = {
        "timestamp": rfc3339(created),
        "tools": {"components": [{"type": "application", "name": "unessential",
                                  "version": __version__}]},
        "component": {"type": "container", "name": image_name,
                      "bom-ref": f"image:{image_name}"},
    }
    if path_filters:
        metadata["properties"] = [{"name": "unessential:image:pathFilter", "value": rule}
                                  for rule in path_filters]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{serial}",
        "version": 1,
        "metadata": metadata,
        "components": components,
    }


def _cdx_component(package: InstalledPackage, identity: Identity | None = None) \
        -> dict[str, object]:
    locator = purl(package, identity)
    references = [{"type": "distribution", "url": download_location(package)}]
    if package.homepage:
        references.append({"type": "website", "url": package.homepage})
    component: dict[str, object] = {
        "type": "library",
        "bom-ref": locator,
        "name": package.name,
        "version": package.version,
        "purl": locator,
        "hashes": [{"alg": _CDX_HASH[algorithm], "content": value}
                   for algorithm, value in _hashes(package)],
        "externalReferences": references,
        "properties": [
            {"name": "unessential:package:source", "value": package.source},
            {"name": "unessential:package:sourceVersion", "value": package.source_version},
            {"name": "unessential:package:suite", "value": package.suite},
        ],
    }
    if package.left_out:
        properties = component["properties"]
        assert isinstance(properties, list)
        properties.append({"name": "unessential:package:leftOutPaths",
                           "value": str(package.left_out)})
    if package.maintainer:
        component["publisher"] = package.maintainer
    if package.description:
        component["description"] = package.description
    return component


# ---------------------------------------------------------------------------------
# output


def write_sbom(path: Path, document: dict[str, object]) -> None:
    """Write `document` as indented JSON with sorted keys, atomically."""
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with os_errors(Path(path)), atomic_writer(Path(path)) as out:
        out.write(text.encode())
