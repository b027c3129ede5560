#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    purge)
        if update-alternatives --query 'editor' >/dev/null 2>&1; then
            update-alternatives --remove-all 'editor'
        fi
        ;;
esac

exit 0
