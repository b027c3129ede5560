#!/usr/bin/env bash
# The main job on the embedded default (SQLite catalog under the data dir, no server):
# create the catalog, fetch, verified, a source and a binary package from the mirror
# named by the host's APT sources, rewrite the binary without its implicit dependencies
# and with declarative maintainer scripts, then rebuild a small set of real packages:
# hello from source in a network-less chroot, a few others by repacking their upstream
# binaries; `rebuild --wait` starts a local worker itself; then publish them as a signed
# APT archive (a signing key is created on first use). The bootstrap stage comes next.
set -euo pipefail
cd "$(dirname "$0")/.."
u=.venv/bin/unessential

$u mirror show
$u catalog upgrade
$u fetch hello --dest ./src
$u fetch --binary ca-certificates --dest ./debs
$u rewrite ./debs/ca-certificates_*.deb --out ./out
dpkg-deb --info ./out/ca-certificates_*.deb
$u rebuild --repack tar lz4 zlib openssl --wait --concurrency 2
$u rebuild hello --wait
$u status
# publish the rebuilt packages as a signed archive; prints the sources.list stanza
$u publish --valid-for 30d
