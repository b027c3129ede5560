#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if [ ! -e "$DPKG_ROOT"'/etc/varnish/secret' ]; then
            install -m '0600' /proc/sys/kernel/random/uuid "$DPKG_ROOT"'/etc/varnish/secret'
        fi
        ;;
esac

exit 0
