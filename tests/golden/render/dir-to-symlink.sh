#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    abort-upgrade)
        dpkg-maintscript-helper dir_to_symlink '/usr/share/doc/foo' 'foo-common' '3.0-1~' 'foo' -- "$@"
        ;;
esac

exit 0
