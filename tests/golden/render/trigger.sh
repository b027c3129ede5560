#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        dpkg-trigger --no-await '/usr/share/foo'
        ;;
esac

exit 0
