#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v install-info >/dev/null 2>&1; then
            install-info --quiet "$DPKG_ROOT"'/usr/share/info/foo.info.gz' "$DPKG_ROOT/usr/share/info/dir"
        fi
        ;;
esac

exit 0
