#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    purge)
        rm -rf -- "$DPKG_ROOT"'/var/lib/foo'
        ;;
esac

exit 0
