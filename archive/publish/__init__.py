"""Writing our signed APT archive: indices, Release, signing, atomic switch.

One module per index type renders it from pure functions into deterministic bytes
(dak-style): `packages` (Packages), `sources` (Sources), `contents` (Contents-<arch>),
`release` (Release and the by-hash layout); `common` holds what they share (hashes,
compression, checks, field order, sorted indices) and `versions` the Debian version
order.
"""
