#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v systemd-machine-id-setup >/dev/null 2>&1; then
            systemd-machine-id-setup ${DPKG_ROOT:+--root="$DPKG_ROOT"}
        fi
        ;;
esac

exit 0
