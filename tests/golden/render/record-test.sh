#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    purge)
        if dpkg-statoverride ${DPKG_ROOT:+--root "$DPKG_ROOT"} --list '/etc/ssl/private' 2>/dev/null | grep -qF -e 'root ssl-cert 710'; then
            _ue_flag_t1=1
        else
            _ue_flag_t1=
        fi
        ;;
esac

exit 0
