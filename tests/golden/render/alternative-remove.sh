#!/bin/sh
# Rendered by unessential from the actions control file of foo (prerm).
set -e

case "$1" in
    remove|deconfigure)
        update-alternatives --remove 'editor' '/usr/bin/vim.basic'
        ;;
esac

exit 0
