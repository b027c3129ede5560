#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        if [ -e "$DPKG_ROOT/etc/nsswitch.conf" ] && ! grep -q -E -e '^passwd:[^#]*\s(systemd)(\s|#|$)' -e '^group:[^#]*\s(systemd)(\s|#|$)' "$DPKG_ROOT/etc/nsswitch.conf"; then
            sed -E -i "$DPKG_ROOT/etc/nsswitch.conf" -e '/^passwd:\s[^#]*$/ s/$/ systemd/' -e '/^passwd:\s.*#/ s/#/ systemd #/'
            sed -E -i "$DPKG_ROOT/etc/nsswitch.conf" -e '/^group:\s[^#]*$/ s/$/ systemd/' -e '/^group:\s.*#/ s/#/ systemd #/'
        fi
        ;;
esac

exit 0
