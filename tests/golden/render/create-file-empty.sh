#!/bin/sh
# Rendered by unessential from the actions control file of foo (preinst).
set -e

case "$1" in
    install)
        if [ ! -e "$DPKG_ROOT"'/var/lib/foo/marker' ] && [ ! -h "$DPKG_ROOT"'/var/lib/foo/marker' ]; then
            mkdir -p -- "$DPKG_ROOT"'/var/lib/foo'
            : > "$DPKG_ROOT"'/var/lib/foo/marker'
        fi
        ;;
esac

exit 0
