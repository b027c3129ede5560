#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        update-alternatives --install '/usr/bin/editor' 'editor' '/usr/bin/vim.basic' 30 \
            --slave '/usr/share/man/man1/editor.1.gz' 'editor.1.gz' '/usr/share/man/man1/vim.1.gz' \
            --slave '/usr/bin/ex' 'ex' '/usr/bin/vim.basic'
        ;;
esac

exit 0
