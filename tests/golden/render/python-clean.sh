#!/bin/sh
# Rendered by unessential from the actions control file of foo (prerm).
set -e

case "$1" in
    remove|upgrade)
        if [ -z "$DPKG_ROOT" ] && command -v py3clean >/dev/null 2>&1; then
            py3clean -p 'python3-foo'
        fi
        ;;
esac

exit 0
