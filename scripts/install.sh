#!/usr/bin/env bash
# Install everything unessential needs on a Debian 12 host, into ./.venv.
#   bash scripts/install.sh          # the tool (and the PostgreSQL driver)
#   bash scripts/install.sh --test   # plus the test requirements
set -euo pipefail
cd "$(dirname "$0")/.."

extras="postgres"
[ "${1:-}" = "--test" ] && extras="postgres,test"

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# gpg/gpgv: signatures; dpkg-dev, apt-utils: real dpkg-source/apt-ftparchive for fixtures
# and benchmarks; debian-archive-keyring: the keys of the host's mirror; mmdebstrap: the
# chroots rewritten packages are installed into; lintian, devscripts (checkbashisms),
# dash: checks of rewritten packages and rendered scripts; gcc, libc6-dev: a real shared
# library for the ldconfig test; skopeo, umoci: readers of the OCI images bootstrap writes;
# chromium: opens the HTML report in the report test; ansible, ansible-lint, nginx-light,
# python3-psycopg2: the farm playbook (ansible/) and its test against this host;
# qemu-user-static: runs the arm64 images bootstrap writes (qemu-aarch64-static -L ROOT);
# uidmap (newuidmap, newgidmap): source builds without root, in a user namespace.
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends \
    gnupg gpgv dpkg-dev apt-utils xz-utils zstd ca-certificates debian-archive-keyring \
    mmdebstrap lintian devscripts dash gcc libc6-dev skopeo umoci chromium \
    ansible ansible-lint nginx-light python3-psycopg2 qemu-user-static uidmap \
    >/dev/null

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    if ! "$python" -m venv .venv 2>/dev/null; then
        $sudo apt-get install -y -qq python3-venv >/dev/null
        rm -rf .venv
        "$python" -m venv .venv
    fi
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[${extras}]"
echo "installed: $(.venv/bin/unessential --version)"
