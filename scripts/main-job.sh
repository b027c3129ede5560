#!/usr/bin/env bash
# The main job on the embedded default (SQLite catalog under the data dir, no server):
# create the catalog, fetch, verified, a source and a binary package from the mirror
# named by the host's APT sources, rewrite the binary without its implicit dependencies
# and with declarative maintainer scripts, then rebuild a small set of real packages:
# hello from source in a network-less chroot, a few others by repacking their upstream
# binaries; `rebuild --wait` starts a local worker itself; then publish them as a signed
# APT archive (a signing key is created on first use); finally bootstrap, from that
# archive, a python3 image with no shell, bash or perl: the sources of python3's
# dependency closure (recipes/closures/python3.txt) are repacked with their recipes first,
# for amd64 and arm64; base-files is built from a source of our own (its os-release names
# the distribution, so that scanners read the image); and a haproxy image (the closure
# computed by `rebuild --closure`), its config checked; then audit what was removed and
# why, and write the HTML report.
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
    --arch amd64,arm64 --wait --concurrency 2
# a workload image: the sources of haproxy's dependency closure as the engine rewrites
# it (computed, no list by hand); binaries whose scripts stay flagged are left out
$u rebuild --repack --closure haproxy --wait --concurrency 2
$u rebuild hello base-files --wait
$u status
# publish the rebuilt packages as a signed archive; prints the sources.list stanza.
# Every binary's source is fetched (verified) into Sources; `--sources available` lists
# and leaves out those the mirror cannot serve (some mirrors carry no sources of the
# security suite) instead of failing the publish, the default.
$u publish --valid-for 30d --sources available

# bootstrap from the published archive (verified through its signed Release): an OCI
# image with SPDX and CycloneDX SBOMs, and the same closure as a directory to run python3
# in; without documentation and glibc's iconv modules (dpkg path filters)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
slim="--exclude-docs --exclude-charsets"
# shellcheck disable=SC2086
$u bootstrap python3 ca-certificates $slim --output ./python.oci.tar --force \
    --sbom spdx,cyclonedx --entrypoint /usr/bin/python3 --compare-upstream
skopeo inspect oci-archive:./python.oci.tar | head -n 20
size=$(stat -c %s ./python.oci.tar)
echo "python3 + ca-certificates OCI archive: $size bytes"
if [ "$size" -gt 16000000 ]; then echo "the image is larger than 16 MB" >&2; exit 1; fi
# shellcheck disable=SC2086
$u bootstrap python3 $slim --output ./python-rootfs --force --strict
ls -l ./python-rootfs ./python-rootfs/usr/bin
files=$(find ./python-rootfs \( -type f -o -type l \) -printf '%s\n' | awk '{s += $1} END {print s}')
echo "python3 rootfs: $files bytes of files"
if [ "$files" -gt $((40 * 1024 * 1024)) ]; then echo "the rootfs is larger than 40 MiB" >&2; exit 1; fi
if [ -n "$(dpkg --root=./python-rootfs --verify)" ]; then echo "dpkg --verify is not clean" >&2; exit 1; fi
grep -E '^(ID|VERSION_ID|VARIANT_ID)=' ./python-rootfs/etc/os-release
if [ "$(id -u)" -eq 0 ]; then
    chroot ./python-rootfs /usr/bin/python3 -c \
        'import ssl, json, sqlite3; print("python3 in the image:", ssl.OPENSSL_VERSION)'
fi
# the same image for amd64 and arm64 (one OCI index, an SBOM per platform); the arm64
# rootfs's python3 runs under qemu-user-static where it is installed
# shellcheck disable=SC2086
$u bootstrap python3 ca-certificates $slim --platform linux/amd64,linux/arm64 \
    --output ./python-multi.oci.tar --force --sbom spdx,cyclonedx
skopeo inspect --override-arch arm64 oci-archive:./python-multi.oci.tar | grep '"Architecture"'
if command -v qemu-aarch64-static >/dev/null; then
    # shellcheck disable=SC2086
    $u bootstrap python3 $slim --arch arm64 --output ./python-rootfs-arm64 --force
    qemu-aarch64-static -L ./python-rootfs-arm64 ./python-rootfs-arm64/usr/bin/python3 -c \
        'import platform, ssl; print("python3 on", platform.machine(), ssl.OPENSSL_VERSION)'
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
