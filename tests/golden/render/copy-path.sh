#!/bin/sh
# Rendered by unessential from the actions control file of foo (preinst).
set -e

case "$1" in
    install)
        if [ -f "$DPKG_ROOT"'/var/lib/ucf/hashfile' ]; then
            cp -f -- "$DPKG_ROOT"'/var/lib/ucf/hashfile' "$DPKG_ROOT"'/var/lib/ucf/hashfile.0'
        fi
        ;;
esac

exit 0
