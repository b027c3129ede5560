"""OpenSSL's subject-name hash of an X.509 certificate, in pure Python.

`openssl rehash` (run by update-ca-certificates) names a link to each certificate of
/etc/ssl/certs `<hash>.<n>`: the hash is the first four bytes, little-endian, of the
SHA-1 of the subject's *canonical* encoding (OpenSSL's X509_NAME_hash_ex). The
canonical encoding re-encodes each attribute value of a string type as UTF8String,
without leading or trailing white space, inner runs of white space made one space and
ASCII letters lower-cased; other values are kept as they are; each relative
distinguished name is a DER SET OF (members sorted by their encoding) and the sets are
concatenated without the outer SEQUENCE. Only what that needs is decoded here: a
minimal DER reader that refuses what DER does not allow (indefinite lengths, lengths
past the end).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

# Universal tags of the string types OpenSSL canonicalises (ASN1_MASK_CANON), with the
# width of their characters: 0 = UTF-8, 1 = one byte (ISO 8859-1), 2 = UCS-2, 4 = UCS-4.
_CANON_WIDTH = {0x0C: 0, 0x13: 1, 0x14: 1, 0x16: 1, 0x1A: 1, 0x1E: 2, 0x1C: 4}
_UTF8STRING = 0x0C
_SPACE = b" \t\n\v\f\r"
_SEQUENCE, _SET = 0x30, 0x31
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)
# PEM labels that carry a certificate (PEM_X509_INFO_read's) and a revocation list.
CERT_LABELS = frozenset({b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"})
CRL_LABELS = frozenset({b"X509 CRL"})


class CertificateError(ValueError):
    """The bytes are not a certificate this module can hash."""


@dataclass(frozen=True)
class _Element:
    tag: int
    start: int  # of the whole element (tag byte) in the buffer
    body: int  # of its contents
    end: int  # one past its contents


def _element(data: bytes, at: int, limit: int) -> _Element:
    """The DER element beginning at `at` and ending at or before `limit`."""
    if at + 2 > limit:
        raise CertificateError("truncated DER element")
    tag = data[at]
    if tag & 0x1F == 0x1F:
        raise CertificateError("high tag numbers are not used in certificates")
    length = data[at + 1]
    body = at + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:
            raise CertificateError("indefinite or oversized DER length")
        if body + count > limit:
            raise CertificateError("truncated DER length")
        length = int.from_bytes(data[body:body + count], "big")
        if data[body] == 0 or length < 0x80:
            raise CertificateError("DER length not in its shortest form")
        body += count
    if body + length > limit:
        raise CertificateError("DER element runs past its end")
    return _Element(tag, at, body, body + length)


def _children(data: bytes, parent: _Element) -> list[_Element]:
    out: list[_Element] = []
    at = parent.body
    while at < parent.end:
        child = _element(data, at, parent.end)
        out.append(child)
        at = child.end
    return out


def _subject(der: bytes) -> tuple[_Element, bytes]:
    """The subject Name element of a certificate, and the certificate's own bytes."""
    certificate = _element(der, 0, len(der))
    if certificate.tag != _SEQUENCE:
        raise CertificateError("a certificate is a SEQUENCE")
    parts = _children(der, certificate)
    if not parts or parts[0].tag != _SEQUENCE:
        raise CertificateError("no tbsCertificate")
    fields = _children(der, parts[0])
    if fields and fields[0].tag == 0xA0:  # [0] EXPLICIT version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject
    if len(fields) < 5 or fields[0].tag != 0x02 or fields[4].tag != _SEQUENCE:
        raise CertificateError("no subject in tbsCertificate")
    return fields[4], der[certificate.start:certificate.end]


def _text(tag: int, value: bytes) -> str:
    width = _CANON_WIDTH[tag]
    try:
        if width == 0:
            return value.decode("utf-8")
        if width == 1:
            return value.decode("latin-1")
        if len(value) % width:
            raise CertificateError("a string's length is not a multiple of its width")
        points = [int.from_bytes(value[i:i + width], "big") for i in range(0, len(value), width)]
        if any(0xD800 <= p <= 0xDFFF or p > 0x10FFFF for p in points):
            raise CertificateError("a string holds a character that is not Unicode")
        return "".join(map(chr, points))
    except UnicodeDecodeError as error:
        raise CertificateError("a UTF8String is not UTF-8") from error


def canonical_value(tag: int, value: bytes) -> bytes:
    """The canonical UTF-8 bytes of a string value (asn1_string_canon)."""
    text = _text(tag, value).encode("utf-8")
    text = text.strip(_SPACE)
    out = bytearray()
    i = 0
    while i < len(text):
        byte = text[i]
        if byte in _SPACE:
            out.append(0x20)
            while i < len(text) and text[i] in _SPACE:
                i += 1
            continue
        out.append(byte + 32 if 0x41 <= byte <= 0x5A else byte)
        i += 1
    return bytes(out)


def _tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def canonical_name(der: bytes, name: _Element) -> bytes:
    """The canonical encoding of a Name (OpenSSL's x509_name_canon)."""
    out = bytearray()
    for rdn in _children(der, name):
        if rdn.tag != _SET:
            raise CertificateError("a relative distinguished name is a SET")
        members: list[bytes] = []
        for attribute in _children(der, rdn):
            parts = _children(der, attribute)
            if attribute.tag != _SEQUENCE or len(parts) != 2 or parts[0].tag != 0x06:
                raise CertificateError("an attribute is a SEQUENCE of an OID and a value")
            oid, value = parts
            kind = der[oid.start:oid.end]
            if value.tag in _CANON_WIDTH:
                text = canonical_value(value.tag, der[value.body:value.end])
                encoded = _tlv(_UTF8STRING, text)
            else:
                encoded = der[value.start:value.end]
            members.append(_tlv(_SEQUENCE, kind + encoded))
        if members:  # DER's SET OF: members in the order of their encodings
            out += _tlv(_SET, b"".join(sorted(members)))
    return bytes(out)


def subject_hash(der: bytes) -> str:
    """The eight hex digits `openssl x509 -subject_hash` prints for certificate `der`."""
    name, _ = _subject(der)
    digest = hashlib.sha1(canonical_name(der, name)).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def fingerprint(der: bytes) -> bytes:
    """The SHA-1 digest of the certificate (what rehash tells duplicates by)."""
    _, own = _subject(der)
    return hashlib.sha1(own).digest()


def pem_objects(data: bytes) -> list[tuple[bytes, bytes]]:
    """Each PEM block of `data`: (label, decoded bytes); undecodable blocks are skipped."""
    found: list[tuple[bytes, bytes]] = []
    for match in _PEM.finditer(data):
        lines = [line.strip() for line in match.group(2).splitlines()]
        if any(b":" in line for line in lines):  # encrypted PEM headers: not a certificate
            continue
        try:
            found.append((match.group(1), base64.b64decode(b"".join(lines), validate=True)))
        except (binascii.Error, ValueError):
            continue
    return found


def single_certificate(data: bytes) -> bytes | None:
    """The certificate of a PEM file holding exactly one certificate and nothing else
    rehash counts (no revocation list), else None (rehash skips such a file)."""
    objects = [(label, der) for label, der in pem_objects(data)
               if label in CERT_LABELS or label in CRL_LABELS]
    if len(objects) != 1 or objects[0][0] not in CERT_LABELS:
        return None
    return objects[0][1]
