#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    remove|purge)
        if [ -e "$DPKG_ROOT/etc/nsswitch.conf" ]; then
            sed -E -i "$DPKG_ROOT/etc/nsswitch.conf" \
                -e ':a /^hosts:\s.*#/ s/(^[^#]+)\s(mymachines)\s+\[!?[A-Za-z]+=[A-Za-z]+\](\s|#)/\1\3/g ; t a' \
                -e ':b /^hosts:\s.*#/ s/(^[^#]+)\s(mymachines)(\s|#)/\1\3/g ; t b' \
                -e ':c /^hosts:\s[^#]*$/ s/\s(mymachines)\s+\[!?[A-Za-z]+=[A-Za-z]+\](\s|$)/\2/g ; t c' \
                -e ':d /^hosts:\s[^#]*$/ s/\s(mymachines)(\s|$)/\2/g ; t d'
        fi
        ;;
esac

exit 0
