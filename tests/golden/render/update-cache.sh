#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v update-mime-database >/dev/null 2>&1; then
            update-mime-database "$DPKG_ROOT"'/usr/share/mime'
        fi
        ;;
esac

exit 0
