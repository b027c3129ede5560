#!/bin/sh
# Rendered by unessential from the actions control file of foo (preinst).
set -e

case "$1" in
    install|upgrade|abort-upgrade)
        dpkg-maintscript-helper rm_conffile '/etc/foo/old.conf' '1.2-1~' 'foo' -- "$@"
        ;;
esac

exit 0
