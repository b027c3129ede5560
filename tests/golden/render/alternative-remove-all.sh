#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    purge)
        update-alternatives --remove-all 'editor'
        ;;
esac

exit 0
