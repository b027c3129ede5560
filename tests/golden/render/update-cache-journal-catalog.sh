#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v journalctl >/dev/null 2>&1; then
            journalctl ${DPKG_ROOT:+--root="$DPKG_ROOT"} --update-catalog || true
        fi
        ;;
esac

exit 0
