#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v systemd-tmpfiles >/dev/null 2>&1; then
            systemd-tmpfiles ${DPKG_ROOT:+--root="$DPKG_ROOT"} --create 'foo.conf' || true
        fi
        ;;
esac

exit 0
