#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    remove)
        if [ -e "$DPKG_ROOT"'/etc/apt/apt.conf.d/20foo' ] || [ -L "$DPKG_ROOT"'/etc/apt/apt.conf.d/20foo' ]; then
            mv -f -- "$DPKG_ROOT"'/etc/apt/apt.conf.d/20foo' "$DPKG_ROOT"'/etc/apt/apt.conf.d/20foo.off'
        fi
        ;;
esac

exit 0
