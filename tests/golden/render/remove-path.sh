#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    purge)
        if [ -d "$DPKG_ROOT"'/var/cache/foo' ] && [ ! -h "$DPKG_ROOT"'/var/cache/foo' ]; then
            rmdir -- "$DPKG_ROOT"'/var/cache/foo' 2>/dev/null || true
        else
            rm -f -- "$DPKG_ROOT"'/var/cache/foo'
        fi
        ;;
esac

exit 0
