#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if [ ! -e "$DPKG_ROOT"'/etc/foo/default.conf' ] && [ ! -h "$DPKG_ROOT"'/etc/foo/default.conf' ]; then
            ln -s -- '../../usr/share/foo/default.conf' "$DPKG_ROOT"'/etc/foo/default.conf'
        fi
        ;;
esac

exit 0
