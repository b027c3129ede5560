#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if [ -z "$DPKG_ROOT" ] && command -v py3compile >/dev/null 2>&1; then
            py3compile -p 'python3-foo' '/usr/share/foo' '/usr/lib/foo'
        fi
        ;;
esac

exit 0
