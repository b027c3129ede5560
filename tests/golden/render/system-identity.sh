#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if [ -z "$DPKG_ROOT" ] && command -v make-ssl-cert >/dev/null 2>&1; then
            make-ssl-cert generate-default-snakeoil
        fi
        ;;
esac

exit 0
