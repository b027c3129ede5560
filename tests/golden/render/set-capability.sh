#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v setcap >/dev/null 2>&1 && setcap 'cap_net_raw+ep' "$DPKG_ROOT"'/bin/ping'; then
            chmod u-s "$DPKG_ROOT"'/bin/ping'
        else
            chmod u+s "$DPKG_ROOT"'/bin/ping'
        fi
        ;;
esac

exit 0
