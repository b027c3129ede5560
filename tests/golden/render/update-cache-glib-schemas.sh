#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v glib-compile-schemas >/dev/null 2>&1; then
            glib-compile-schemas "$DPKG_ROOT"'/usr/share/glib-2.0/schemas'
        fi
        ;;
esac

exit 0
