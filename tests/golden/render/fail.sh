#!/bin/sh
# Rendered by unessential from the actions control file of foo (preinst).
set -e

case "$1" in
    install)
        if { [ -d "$DPKG_ROOT"'/usr' ] && [ ! -L "$DPKG_ROOT"'/usr' ] && { [ "$(stat -c %d -- "$DPKG_ROOT"'/usr')" != "$(stat -c %d -- "$DPKG_ROOT"'/usr/..')" ] || [ "$(stat -c %i -- "$DPKG_ROOT"'/usr')" = "$(stat -c %i -- "$DPKG_ROOT"'/usr/..')" ]; }; } && ! [ -d "$DPKG_ROOT"'/run/initramfs/' ]; then
            printf '%s\n' '/usr is a standalone filesystem, this requires using an initramfs.' >&2
            exit 1
        fi
        ;;
esac

exit 0
