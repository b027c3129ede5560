#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure|triggered)
        if command -v update-shells >/dev/null 2>&1; then
            update-shells
        fi
        ;;
esac

exit 0
