#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    purge)
        dpkg-maintscript-helper rm_conffile '/etc/foo/old.conf' '' 'foo' -- "$@"
        ;;
esac

exit 0
