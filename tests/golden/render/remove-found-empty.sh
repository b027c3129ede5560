#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if [ -d "$DPKG_ROOT"'/etc/redis' ] && [ ! -L "$DPKG_ROOT"'/etc/redis' ]; then
            find "$DPKG_ROOT"'/etc/redis' -maxdepth '1' -type 'd' -name 'redis-server.*.d' -empty -delete
        fi
        ;;
esac

exit 0
