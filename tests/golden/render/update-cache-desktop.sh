#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v update-desktop-database >/dev/null 2>&1; then
            update-desktop-database -q "$DPKG_ROOT"'/usr/share/applications'
        fi
        ;;
esac

exit 0
