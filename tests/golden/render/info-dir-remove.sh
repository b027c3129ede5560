#!/bin/sh
# Rendered by unessential from the actions control file of foo (prerm).
set -e

case "$1" in
    remove)
        if command -v install-info >/dev/null 2>&1; then
            install-info --remove --quiet "$DPKG_ROOT"'/usr/share/info/foo.info.gz' "$DPKG_ROOT/usr/share/info/dir"
        fi
        ;;
esac

exit 0
