#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

case "$1" in
    purge)
        for _ue_p in "$DPKG_ROOT"/var/log/foo/*.log; do
            if [ -d "$_ue_p" ] && [ ! -h "$_ue_p" ]; then
                rmdir -- "$_ue_p" 2>/dev/null || true
            else
                rm -f -- "$_ue_p"
            fi
        done
        ;;
esac

exit 0
