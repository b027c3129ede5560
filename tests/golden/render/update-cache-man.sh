#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if [ -z "$DPKG_ROOT" ] && command -v mandb >/dev/null 2>&1; then
            # as man-db's own scripts run it: built from scratch when there is no database
            # (-c), else updated without purging (-p), as the owner of /var/cache/man
            _ue_mandb=-pq
            [ -f /var/cache/man/index.db ] || _ue_mandb=-cq
            if command -v setpriv >/dev/null 2>&1 && getent passwd man >/dev/null 2>&1; then
                setpriv --reuid man --regid man --init-groups -- mandb "$_ue_mandb" || true
            else
                mandb "$_ue_mandb" || true
            fi
        fi
        ;;
esac

exit 0
