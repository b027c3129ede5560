#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v systemd-sysusers >/dev/null 2>&1; then
            systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} 'foo.conf'
        fi
        ;;
esac

exit 0
