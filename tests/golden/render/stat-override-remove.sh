#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    purge)
        if dpkg-statoverride ${DPKG_ROOT:+--root "$DPKG_ROOT"} --list '/usr/bin/foo-helper' >/dev/null 2>&1; then
            dpkg-statoverride ${DPKG_ROOT:+--root "$DPKG_ROOT"} --remove '/usr/bin/foo-helper'
        fi
        ;;
esac

exit 0
