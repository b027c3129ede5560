#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if ! dpkg-statoverride ${DPKG_ROOT:+--root "$DPKG_ROOT"} --list '/usr/bin/foo-helper' >/dev/null 2>&1; then
            dpkg-statoverride ${DPKG_ROOT:+--root "$DPKG_ROOT"} --update --add 'root' 'foo' '2755' '/usr/bin/foo-helper'
        fi
        ;;
esac

exit 0
