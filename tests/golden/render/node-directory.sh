#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

# _ue_id NAME FILE: print the id (third field) of entry NAME in FILE; false if none.
_ue_id() {
    [ -f "$2" ] || return 1
    while IFS=: read -r _ue_n _ue_p _ue_i _ue_rest || [ -n "$_ue_n" ]; do
        if [ "$_ue_n" = "$1" ]; then
            printf '%s\n' "$_ue_i"
            return 0
        fi
    done < "$2"
    return 1
}

# _ue_chown OWNER GROUP PATH...: chown (or chgrp when OWNER is empty), with the ids
# that the root's /etc/passwd and /etc/group give the names (names kept otherwise).
_ue_chown() {
    _ue_o=$1
    _ue_g=$2
    shift 2
    if [ -n "$_ue_o" ] && _ue_x=$(_ue_id "$_ue_o" "$DPKG_ROOT/etc/passwd"); then
        _ue_o=$_ue_x
    fi
    if [ -n "$_ue_g" ] && _ue_x=$(_ue_id "$_ue_g" "$DPKG_ROOT/etc/group"); then
        _ue_g=$_ue_x
    fi
    if [ -n "$_ue_o" ]; then
        chown -- "$_ue_o${_ue_g:+:$_ue_g}" "$@"
    else
        chgrp -- "$_ue_g" "$@"
    fi
}

case "$1" in
    configure)
        _ue_node=$(uname -n)
        if [ -n "$_ue_node" ] && [ ! -e "$DPKG_ROOT"'/var/lib/varnish'/"$_ue_node" ]; then
            mkdir -p "$DPKG_ROOT"'/var/lib/varnish'/"$_ue_node"
            _ue_chown 'varnish' 'varnish' "$DPKG_ROOT"'/var/lib/varnish'/"$_ue_node"
        fi
        ;;
esac

exit 0
