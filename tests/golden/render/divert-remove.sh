#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    remove)
        dpkg-divert ${DPKG_ROOT:+--root "$DPKG_ROOT"} --package 'dash' --no-rename --remove '/bin/sh'
        ;;
esac

exit 0
