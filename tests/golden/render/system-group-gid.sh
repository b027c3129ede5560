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

# _ue_edit FILE OP NAME [ARG]: rewrite FILE (passwd, shadow, group or gshadow format)
# through a temporary copy that keeps its mode and owner. OP "add" appends line ARG,
# "del" drops the entry NAME, "member" adds ARG to the member list (last field) of
# the entry NAME unless it is there already.
_ue_edit() {
    if [ ! -f "$1" ]; then
        printf 'unessential: %s is missing\n' "$1" >&2
        exit 1
    fi
    cp -p -- "$1" "$1.ue-tmp"
    while IFS= read -r _ue_l || [ -n "$_ue_l" ]; do
        if [ "${_ue_l%%:*}" != "$3" ]; then
            printf '%s\n' "$_ue_l"
            continue
        fi
        case $2 in
            del) ;;
            member)
                _ue_m=${_ue_l##*:}
                case ",$_ue_m," in
                    *,"$4",*) printf '%s\n' "$_ue_l" ;;
                    *) printf '%s\n' "$_ue_l${_ue_m:+,}$4" ;;
                esac
                ;;
            *) printf '%s\n' "$_ue_l" ;;
        esac
    done < "$1" > "$1.ue-tmp"
    if [ "$2" = add ]; then
        printf '%s\n' "$4" >> "$1.ue-tmp"
    fi
    mv -f -- "$1.ue-tmp" "$1"
}

# _ue_add_fixed_group NAME GID: create the group NAME with the fixed id GID (groupadd
# -g) unless it has it already; fail if NAME has another id or GID is another group's.
_ue_add_fixed_group() {
    if _ue_gid=$(_ue_id "$1" "$DPKG_ROOT/etc/group"); then
        [ "$_ue_gid" = "$2" ] && return 0
        printf 'unessential: group %s has the id %s, not %s\n' "$1" "$_ue_gid" "$2" >&2
        exit 1
    fi
    if [ -f "$DPKG_ROOT/etc/group" ]; then
        while IFS=: read -r _ue_n _ue_p _ue_i _ue_rest || [ -n "$_ue_n" ]; do
            if [ "$_ue_i" = "$2" ]; then
                printf 'unessential: the id %s of group %s is the group %s'"'"'s\n' \
                    "$2" "$1" "$_ue_n" >&2
                exit 1
            fi
        done < "$DPKG_ROOT/etc/group"
    fi
    _ue_gid=$2
    _ue_edit "$DPKG_ROOT/etc/group" add "$1" "$1:x:$2:"
    if [ -f "$DPKG_ROOT/etc/gshadow" ]; then
        _ue_edit "$DPKG_ROOT/etc/gshadow" add "$1" "$1:!::"
    fi
}

case "$1" in
    configure)
        _ue_add_fixed_group 'shadow' '42'
        ;;
esac

exit 0
