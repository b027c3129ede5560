#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if [ ! -e "$DPKG_ROOT"'/etc/foo/foo.conf' ] && [ ! -h "$DPKG_ROOT"'/etc/foo/foo.conf' ]; then
            mkdir -p -- "$DPKG_ROOT"'/etc/foo'
            cp -p -- "$DPKG_ROOT"'/usr/share/foo/foo.conf.dist' "$DPKG_ROOT"'/etc/foo/foo.conf'
        fi
        ;;
esac

exit 0
