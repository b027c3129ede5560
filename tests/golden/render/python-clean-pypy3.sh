#!/bin/sh
# Rendered by unessential from the actions control file of foo (prerm).
set -e

case "$1" in
    remove)
        if [ -z "$DPKG_ROOT" ] && command -v pypy3clean >/dev/null 2>&1; then
            pypy3clean -p 'pypy3-foo'
        fi
        ;;
esac

exit 0
