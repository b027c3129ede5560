#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    triggered)
        mkdir -p -- "$DPKG_ROOT/etc/ssl/certs"
        if [ -z "$DPKG_ROOT" ] && [ -x /usr/sbin/update-ca-certificates ]; then
            update-ca-certificates --hooksdir "" >/dev/null
        else
            for _ue_c in "$DPKG_ROOT"/usr/share/ca-certificates/*/*.crt "$DPKG_ROOT"/usr/local/share/ca-certificates/*.crt; do
                if [ -f "$_ue_c" ]; then
                    while IFS= read -r _ue_l || [ -n "$_ue_l" ]; do
                        printf '%s\n' "$_ue_l"
                    done < "$_ue_c"
                fi
            done > "$DPKG_ROOT/etc/ssl/certs/ca-certificates.crt.ue-tmp"
            mv -f -- "$DPKG_ROOT/etc/ssl/certs/ca-certificates.crt.ue-tmp" "$DPKG_ROOT/etc/ssl/certs/ca-certificates.crt"
        fi
        ;;
esac

exit 0
