#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

case "$1" in
    configure)
        # shadowconfig on (passwd's tool; it honours $DPKG_ROOT)
        shadowconfig on
        ;;
esac

exit 0
