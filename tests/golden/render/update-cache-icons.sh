#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v gtk-update-icon-cache >/dev/null 2>&1; then
            gtk-update-icon-cache -q -t -f "$DPKG_ROOT"'/usr/share/icons/hicolor'
        fi
        ;;
esac

exit 0
