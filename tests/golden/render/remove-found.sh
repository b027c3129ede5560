#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    purge)
        if [ -d "$DPKG_ROOT"'/etc/ssl/certs' ] && [ ! -L "$DPKG_ROOT"'/etc/ssl/certs' ]; then
            find "$DPKG_ROOT"'/etc/ssl/certs' -maxdepth '1' -lname 'ssl-cert-snakeoil.pem' -delete
        fi
        ;;
esac

exit 0
