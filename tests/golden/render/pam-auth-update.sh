#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v pam-auth-update >/dev/null 2>&1; then
            pam-auth-update --root "$DPKG_ROOT" --package --force
        fi
        ;;
esac

exit 0
