#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if [ -z "$DPKG_ROOT" ] && command -v pypy3compile >/dev/null 2>&1; then
            pypy3compile -p 'pypy3-foo' '/usr/share/foo'
        fi
        ;;
esac

exit 0
