#!/bin/sh
# Rendered by unessential from the actions control file of foo (preinst).
set -e

case "$1" in
    install|upgrade)
        dpkg-divert ${DPKG_ROOT:+--root "$DPKG_ROOT"} --package 'foo' --rename --divert '/usr/bin/foo.real' --add '/usr/bin/foo'
        ;;
esac

exit 0
