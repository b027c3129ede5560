#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    remove|purge)
        if [ -d "$DPKG_ROOT"'/etc/ssl/certs' ]; then
            find "$DPKG_ROOT"'/etc/ssl/certs' -type l -print | while IFS= read -r _ue_l; do
                [ -f "$_ue_l" ] || rm -f -- "$_ue_l"
            done
        fi
        ;;
esac

exit 0
