"""SBOMs: golden SPDX 2.3 and CycloneDX 1.5 documents, purls, determinism.

UPDATE_GOLDEN=1 rewrites the files under tests/golden/sbom.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest

from base import __version__
from bootstrap.identity import Identity
from bootstrap.layer import ImageError
from bootstrap.model import InstalledPackage
from bootstrap.sbom import cyclonedx_json, purl, spdx_json, write_sbom
from tests.fixtures.golden import GOLDEN, assert_golden

CREATED = 1_700_000_000
ARCHIVE = "http://deb.example.org/unessential/"

LIBSSL = InstalledPackage(
    name="libssl3", version="3.0.11-1~deb12u2", architecture="amd64", source="openssl",
    source_version="3.0.11-1~deb12u2", sha256="a" * 64, size=2_024_000,
    filename="pool/main/o/openssl/libssl3_3.0.11-1~deb12u2_amd64.deb", archive=ARCHIVE,
    suite="bookworm", installed_size=6_000, homepage="https://www.openssl.org/",
    maintainer="Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>",
    description="Secure Sockets Layer toolkit - shared libraries", md5="b" * 32,
    sha512="c" * 128,
)
LIBSTDCXX = InstalledPackage(
    name="libstdc++6", version="12.2.0-14+deb12u1", architecture="amd64", source="gcc-12",
    source_version="12.2.0-14+deb12u1", sha256="d" * 64, size=613_000,
    filename="pool/main/g/gcc-12/libstdc++6_12.2.0-14+deb12u1_amd64.deb", archive=ARCHIVE,
    suite="bookworm", maintainer="Debian GCC Maintainers <debian-gcc@lists.debian.org>",
    description="GNU Standard C++ Library v3",
)
LIBCAP = InstalledPackage(  # same name as its source, an epoch, no maintainer
    name="libcap2", version="1:2.66-4", architecture="amd64", source="libcap2",
    source_version="1:2.66-4", sha256="E" * 64, size=27_000,
    filename="pool/main/libc/libcap2/libcap2_2.66-4_amd64.deb", archive=ARCHIVE.rstrip("/"),
    suite="bookworm",
)
PACKAGES = [LIBSTDCXX, LIBCAP, LIBSSL]  # not in name order on purpose


def spdx(packages: list[InstalledPackage] = PACKAGES, seed: str = "demo-seed") -> dict:
    return spdx_json(packages, image_name="unessential/demo:v1", created=CREATED,
                     namespace_seed=seed)


def cyclonedx(packages: list[InstalledPackage] = PACKAGES, seed: str = "demo-seed") -> dict:
    return cyclonedx_json(packages, image_name="unessential/demo:v1", created=CREATED,
                          serial_seed=seed)


# ---------------------------------------------------------------------------------
# golden files


@pytest.mark.parametrize("name, make, tool", [
    ("spdx.json", spdx, '"Tool: unessential-{}"'),
    ("cyclonedx.json", cyclonedx, '"version": "{}"'),
])
def test_golden(name: str, make, tool: str, tmp_path: Path):
    write_sbom(tmp_path / name, make())
    text = (tmp_path / name).read_text()
    assert text.count(tool.format(__version__)) == 1  # a version bump keeps the golden file
    assert_golden(GOLDEN / "sbom" / name,
                  text.replace(tool.format(__version__), tool.format("@VERSION@")))
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left


# ---------------------------------------------------------------------------------
# purl


def test_purls_follow_the_deb_type():
    assert purl(LIBCAP) == "pkg:deb/debian/libcap2@1:2.66-4?arch=amd64&distro=bookworm"
    assert purl(LIBSTDCXX) == ("pkg:deb/debian/libstdc%2B%2B6@12.2.0-14%2Bdeb12u1"
                               "?arch=amd64&distro=bookworm&upstream=gcc-12")
    assert purl(LIBSSL) == ("pkg:deb/debian/libssl3@3.0.11-1~deb12u2"
                            "?arch=amd64&distro=bookworm&upstream=openssl")


# ---------------------------------------------------------------------------------
# SPDX structure


def test_spdx_document_fields():
    document = spdx()
    assert document["spdxVersion"] == "SPDX-2.3"
    assert document["dataLicense"] == "CC0-1.0"
    assert document["SPDXID"] == "SPDXRef-DOCUMENT"
    assert document["creationInfo"] == {"created": "2023-11-14T22:13:20Z",
                                        "creators": [f"Tool: unessential-{__version__}"]}
    assert re.fullmatch(r"https://unessential\.invalid/spdx/unessential-demo-v1-[0-9a-f]{64}",
                        document["documentNamespace"])


def test_spdx_lists_every_package_with_its_sha256():
    document = spdx()
    by_name = {p["name"]: p for p in document["packages"]}
    ids = [p["SPDXID"] for p in document["packages"]]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"SPDXRef-[A-Za-z0-9.-]+", i) for i in ids)
    for package in PACKAGES:
        entry = by_name[package.name]
        checksums = {c["algorithm"]: c["checksumValue"] for c in entry["checksums"]}
        assert checksums["SHA256"] == package.sha256.lower()
        assert entry["versionInfo"] == package.version
        assert entry["filesAnalyzed"] is False
        assert entry["externalRefs"][0]["referenceLocator"] == purl(package)
        assert entry["downloadLocation"] == f"{ARCHIVE}{quote(package.filename, safe='/+:')}"
    assert set({c["algorithm"] for c in by_name["libssl3"]["checksums"]}) == {
        "SHA256", "MD5", "SHA512"}
    assert by_name["libcap2"]["supplier"] == "NOASSERTION"
    assert by_name["libssl3"]["supplier"] == (
        "Organization: Debian OpenSSL Team (pkg-openssl-devel@alioth-lists.debian.net)")
    assert by_name["libssl3"]["sourceInfo"] == "built package from: openssl 3.0.11-1~deb12u2"
    names = [p["name"] for p in document["packages"][1:]]
    assert names == sorted(names)


def test_spdx_relationships_point_at_known_elements():
    document = spdx()
    ids = {p["SPDXID"] for p in document["packages"]} | {"SPDXRef-DOCUMENT"}
    relations = document["relationships"]
    for relation in relations:
        assert {relation["spdxElementId"], relation["relatedSpdxElement"]} <= ids
    described = [r for r in relations if r["relationshipType"] == "DESCRIBES"]
    assert [r["spdxElementId"] for r in described] == ["SPDXRef-DOCUMENT"]
    contained = {r["relatedSpdxElement"] for r in relations
                 if r["relationshipType"] == "CONTAINS"}
    assert len(contained) == len(PACKAGES)


# ---------------------------------------------------------------------------------
# CycloneDX structure


def test_cyclonedx_document_fields():
    document = cyclonedx()
    assert (document["bomFormat"], document["specVersion"], document["version"]) == (
        "CycloneDX", "1.5", 1)
    serial = document["serialNumber"]
    assert serial.startswith("urn:uuid:") and uuid.UUID(serial[9:]).version == 5
    assert document["metadata"]["timestamp"] == "2023-11-14T22:13:20Z"
    assert document["metadata"]["component"]["type"] == "container"


def test_cyclonedx_lists_every_package_with_its_sha256():
    components = {c["name"]: c for c in cyclonedx()["components"]}
    assert set(components) == {p.name for p in PACKAGES}
    for package in PACKAGES:
        component = components[package.name]
        hashes = {h["alg"]: h["content"] for h in component["hashes"]}
        assert hashes["SHA-256"] == package.sha256.lower()
        assert component["type"] == "library"
        assert component["purl"] == component["bom-ref"] == purl(package)
        properties = {p["name"]: p["value"] for p in component["properties"]}
        assert properties["unessential:package:source"] == package.source
        assert properties["unessential:package:suite"] == "bookworm"
        assert component["externalReferences"][0] == {
            "type": "distribution", "url": f"{ARCHIVE}{quote(package.filename, safe='/+:')}"}
    assert set(h["alg"] for h in components["libssl3"]["hashes"]) == {
        "SHA-256", "MD5", "SHA-512"}


# ---------------------------------------------------------------------------------
# determinism


@pytest.mark.parametrize("make", [spdx, cyclonedx])
def test_same_inputs_same_document(make):
    assert make() == make(list(reversed(PACKAGES)))
    assert json.dumps(make()) != json.dumps(make(seed="other-seed"))
    assert make() != make([*PACKAGES[:2], replace(LIBSSL, sha256="f" * 64)])


def test_write_sbom_into_a_missing_directory(tmp_path: Path):
    with pytest.raises(ImageError, match="does not exist"):
        write_sbom(tmp_path / "missing" / "sbom.json", spdx())
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------
# identity, path filters, validators


DEBIAN_12 = Identity(id="debian", version_id="12", version_codename="bookworm",
                     pretty_name="unessential (Debian GNU/Linux 12 (bookworm))",
                     variant_id="unessential", path="/etc/os-release")


def test_purls_name_the_distribution_of_the_image_as_syft_does():
    """Syft: namespace ID, distro=ID-VERSION_ID, upstream from the status's Source field
    (SOURCE, or SOURCE@VERSION where the field has a version); none without it."""
    assert purl(LIBSSL, DEBIAN_12) == (
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl")
    rebuilt = replace(LIBSSL, version="3.0.11-1~deb12u2ue1",
                      source_field="openssl (3.0.11-1~deb12u2)")
    assert purl(rebuilt, DEBIAN_12) == (
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2ue1?arch=amd64&distro=debian-12"
        "&upstream=openssl%403.0.11-1~deb12u2")
    assert purl(replace(LIBCAP, version="1:2.66-4ue1", source_field="libcap2 (1:2.66-4)"),
                DEBIAN_12).endswith("?arch=amd64&distro=debian-12&upstream=libcap2%401:2.66-4")
    assert purl(LIBCAP, DEBIAN_12) == "pkg:deb/debian/libcap2@1:2.66-4?arch=amd64&distro=debian-12"


def test_the_operating_system_and_left_out_paths_are_described():
    packages = [replace(LIBSSL, left_out=12), LIBCAP]
    rules = ["path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright"]
    document = spdx_json(packages, image_name="img", created=CREATED, namespace_seed="s",
                         identity=DEBIAN_12, path_filters=rules)
    system = [p for p in document["packages"]
              if p.get("primaryPackagePurpose") == "OPERATING-SYSTEM"]
    assert [(p["name"], p["versionInfo"]) for p in system] == [("debian", "12")]
    assert "path-include=/usr/share/doc/*/copyright" in document["creationInfo"]["comment"]
    by_name = {p["name"]: p for p in document["packages"]}
    assert by_name["libssl3"]["comment"].startswith("12 paths")
    assert "comment" not in by_name["libcap2"]
    bom = cyclonedx_json(packages, image_name="img", created=CREATED, serial_seed="s",
                         identity=DEBIAN_12, path_filters=rules)
    assert bom["components"][0] == {
        "type": "operating-system", "name": "debian", "version": "12",
        "bom-ref": "os:debian-12", "description": DEBIAN_12.pretty_name}
    assert [p["value"] for p in bom["metadata"]["properties"]] == rules
    ssl = next(c for c in bom["components"] if c["name"] == "libssl3")
    assert {"name": "unessential:package:leftOutPaths", "value": "12"} in ssl["properties"]


def test_a_local_archive_has_no_spdx_download_location():
    local = replace(LIBSSL, archive="file:///srv/public")
    document = spdx_json([local], image_name="img", created=CREATED, namespace_seed="s")
    assert document["packages"][1]["downloadLocation"] == "NOASSERTION"
    bom = cyclonedx_json([local], image_name="img", created=CREATED, serial_seed="s")
    assert bom["components"][0]["externalReferences"][0]["url"].startswith("file:///srv/")


@pytest.mark.parametrize("archive", [ARCHIVE, "file:///srv/public"])
@pytest.mark.parametrize("identity", [None, DEBIAN_12])
def test_spdx_tools_validate_our_documents(tmp_path: Path, archive: str,
                                           identity: Identity | None) -> None:
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    packages = [replace(p, archive=archive, left_out=3) for p in PACKAGES]
    path = tmp_path / "image.spdx.json"
    write_sbom(path, spdx_json(packages, image_name="unessential/img", created=CREATED,
                               namespace_seed="s", identity=identity,
                               path_filters=["path-exclude=/usr/share/man/*"]))
    messages = validate_full_spdx_document(parse_file(str(path)))
    assert [m.validation_message for m in messages] == []


@pytest.mark.parametrize("identity", [None, DEBIAN_12])
def test_the_cyclonedx_schema_validates_our_documents(identity: Identity | None) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    packages = [replace(p, left_out=3) for p in PACKAGES]
    bom = cyclonedx_json(packages, image_name="unessential/img", created=CREATED,
                         serial_seed="s", identity=identity,
                         path_filters=["path-exclude=/usr/share/man/*"])
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(bom))
    assert error is None, error
