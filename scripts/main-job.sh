#!/usr/bin/env bash
# The main job on the embedded default (SQLite catalog under the data dir, no server):
# create the catalog, fetch, verified, a source and a binary package from the mirror
# named by the host's APT sources, rewrite the binary without its implicit dependencies
# and with declarative maintainer scripts, then rebuild a small set of real packages:
# hello from source in a network-less chroot, a few others by repacking their upstream
# binaries; `rebuild --wait` starts a local worker itself; then publish them as a signed
# APT archive (a signing key is created on first use); finally bootstrap, from that
# archive, a python3 image with no shell, bash or perl: the sources of python3's
# dependency closure (recipes/closures/python3.txt) are repacked with their recipes first;
# and a haproxy image (the closure computed by `rebuild --closure`), its config checked;
# then audit what was removed and why, and write the HTML report.
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
# shellcheck disable=SC2046
$u rebuild --repack $(sed -e 's/#.*//' recipes/closures/python3.txt) ca-certificates \
    --wait --concurrency 2
# a workload image: the sources of haproxy's dependency closure as the engine rewrites
# it (computed, no list by hand); binaries whose scripts stay flagged are left out
$u rebuild --repack --closure haproxy --wait --concurrency 2
$u rebuild hello --wait
$u status
# publish the rebuilt packages as a signed archive; prints the sources.list stanza.
# Every binary's source is fetched (verified) into Sources; `--sources available` lists
# and leaves out those the mirror cannot serve (some mirrors carry no sources of the
# security suite) instead of failing the publish, the default.
$u publish --valid-for 30d --sources available

# bootstrap from the published archive (verified through its signed Release): an OCI
# image with an SPDX SBOM, and the same closure as a directory to run python3 in
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
$u bootstrap python3 ca-certificates --output ./python.oci.tar --force --sbom spdx \
    --entrypoint /usr/bin/python3 --compare-upstream
skopeo inspect oci-archive:./python.oci.tar | head -n 20
$u bootstrap python3 --output ./python-rootfs --force --strict
ls -l ./python-rootfs ./python-rootfs/usr/bin
if [ "$(id -u)" -eq 0 ]; then
    chroot ./python-rootfs /usr/bin/python3 -c \
        'import ssl, json, sqlite3; print("python3 in the image:", ssl.OPENSSL_VERSION)'
fi
for shell in bin/sh bin/bash usr/bin/perl; do
    if [ -e "./python-rootfs/$shell" ]; then echo "unexpected /$shell in the image" >&2; exit 1; fi
done
echo "no /bin/sh, bash or perl in ./python-rootfs"

# haproxy from the same archive: its postinst's system user applied natively, no shell
$u bootstrap haproxy --output ./haproxy-rootfs --force --strict
grep '^haproxy:' ./haproxy-rootfs/etc/passwd
for shell in bin/sh bin/bash usr/bin/perl; do
    if [ -e "./haproxy-rootfs/$shell" ]; then echo "unexpected /$shell in the image" >&2; exit 1; fi
done
if [ "$(id -u)" -eq 0 ]; then
    chroot ./haproxy-rootfs /usr/sbin/haproxy -c -f /etc/haproxy/haproxy.cfg
fi

# audit: what the rebuilds removed and why, one package's changes, upstream vs ours, a
# CI gate on the image (fails if it holds bash, dpkg, perl-base, ...) and an HTML report
$u audit
$u audit --dropped dpkg
$u audit --package readline-common
$u diff readline-common
$u audit --fail-on essential-in-image ./python.oci.tar
$u report --output ./report
echo "report: ./report/index.html"
