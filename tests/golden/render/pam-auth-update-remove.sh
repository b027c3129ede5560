#!/bin/sh
# Rendered by unessential from the actions control file of foo (prerm).
set -e

case "$1" in
    remove)
        if command -v pam-auth-update >/dev/null 2>&1; then
            pam-auth-update --root "$DPKG_ROOT" --package --remove 'systemd'
        fi
        ;;
esac

exit 0
