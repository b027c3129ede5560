#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if command -v setcap >/dev/null 2>&1 && getcap "$DPKG_ROOT"'/bin/ip' 2>/dev/null | grep -qs .; then
            setcap -r "$DPKG_ROOT"'/bin/ip' || echo "Could not remove the capabilities of" '/bin/ip' >&2
        fi
        ;;
esac

exit 0
