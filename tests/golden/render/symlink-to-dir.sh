#!/bin/sh
# Rendered by unessential from the actions control file of foo (preinst).
set -e

case "$1" in
    install|upgrade)
        dpkg-maintscript-helper symlink_to_dir '/usr/share/doc/foo' 'foo-common' -- "$@"
        ;;
esac

exit 0
