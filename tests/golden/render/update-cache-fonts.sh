#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if [ -z "$DPKG_ROOT" ] && command -v fc-cache >/dev/null 2>&1; then
            fc-cache
        fi
        ;;
esac

exit 0
