#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        dpkg-maintscript-helper mv_conffile '/etc/foo/a.conf' '/etc/foo/b.conf' '2.0-1~' -- "$@"
        ;;
esac

exit 0
