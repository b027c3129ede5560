#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v ldconfig >/dev/null 2>&1; then
            ldconfig ${DPKG_ROOT:+-r "$DPKG_ROOT"}
        fi
        ;;
esac

exit 0
