#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v systemd-hwdb >/dev/null 2>&1; then
            systemd-hwdb ${DPKG_ROOT:+--root="$DPKG_ROOT"} --usr update || true
        fi
        ;;
esac

exit 0
