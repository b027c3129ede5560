#!/bin/sh
# Rendered by unessential from the actions control file of foo (postrm).
set -e

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

case "$1" in
    purge)
        for _ue_f in "$DPKG_ROOT/etc/group" "$DPKG_ROOT/etc/gshadow"; do
            if [ -f "$_ue_f" ]; then
                _ue_edit "$_ue_f" del 'foo'
            fi
        done
        ;;
esac

exit 0
