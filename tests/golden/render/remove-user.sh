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
        # as userdel: with USERGROUPS_ENAB yes in login.defs, the group named after the user
        # goes too where it is the user's primary group, has no members and is no other
        # user's primary group
        _ue_pg=
        _ue_rg=
        if [ -f "$DPKG_ROOT/etc/login.defs" ] && grep -Eq '^[[:space:]]*USERGROUPS_ENAB[[:space:]]+yes([[:space:]]|$)' "$DPKG_ROOT/etc/login.defs"; then
            _ue_pg=$(while IFS=: read -r _ue_n _ue_x _ue_u _ue_g _ue_r; do
                if [ "$_ue_n" = 'foo' ]; then printf '%s' "$_ue_g"; fi
            done < "$DPKG_ROOT/etc/passwd")
        fi
        if [ -n "$_ue_pg" ] && [ -f "$DPKG_ROOT/etc/group" ]; then
            _ue_rg=$(while IFS=: read -r _ue_n _ue_x _ue_g _ue_m; do
                if [ "$_ue_n" = 'foo' ] && [ "$_ue_g" = "$_ue_pg" ] && [ -z "$_ue_m" ]; then printf yes; fi
            done < "$DPKG_ROOT/etc/group")
            if [ -n "$_ue_rg" ]; then
                _ue_rg=$(while IFS=: read -r _ue_n _ue_x _ue_u _ue_g _ue_r; do
                    if [ "$_ue_n" != 'foo' ] && [ "$_ue_g" = "$_ue_pg" ]; then printf no; fi
                done < "$DPKG_ROOT/etc/passwd")
                [ -z "$_ue_rg" ] && _ue_rg=yes || _ue_rg=
            fi
        fi
        for _ue_f in "$DPKG_ROOT/etc/passwd" "$DPKG_ROOT/etc/shadow"; do
            if [ -f "$_ue_f" ]; then
                _ue_edit "$_ue_f" del 'foo'
            fi
        done
        if [ -n "$_ue_rg" ]; then
            for _ue_f in "$DPKG_ROOT/etc/group" "$DPKG_ROOT/etc/gshadow"; do
                if [ -f "$_ue_f" ]; then
                    _ue_edit "$_ue_f" del 'foo'
                fi
            done
        fi
        ;;
esac

exit 0
