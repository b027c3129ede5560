#!/bin/sh
# Rendered by unessential from the actions control file of foo (postinst).
set -e

# _ue_has NAME FILE: true if FILE (passwd or group format) has an entry NAME.
_ue_has() {
    [ -f "$2" ] || return 1
    while IFS=: read -r _ue_n _ue_rest || [ -n "$_ue_n" ]; do
        if [ "$_ue_n" = "$1" ]; then
            return 0
        fi
    done < "$2"
    return 1
}

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

# _ue_free_id WANTED FILE...: print WANTED if it is in 100..999 and no FILE uses it
# as an id (third field), else the lowest such free id; fail if there is none.
_ue_free_id() {
    _ue_want=$1
    shift
    _ue_used=' '
    for _ue_f in "$@"; do
        [ -f "$_ue_f" ] || continue
        while IFS=: read -r _ue_n _ue_p _ue_i _ue_rest || [ -n "$_ue_n" ]; do
            _ue_used="$_ue_used$_ue_i "
        done < "$_ue_f"
    done
    case $_ue_want in
        [1-9][0-9][0-9])
            case $_ue_used in
                *" $_ue_want "*) ;;
                *) printf '%s\n' "$_ue_want"; return 0 ;;
            esac
            ;;
    esac
    _ue_i=100
    while [ "$_ue_i" -le 999 ]; do
        case $_ue_used in
            *" $_ue_i "*) ;;
            *) printf '%s\n' "$_ue_i"; return 0 ;;
        esac
        _ue_i=$((_ue_i + 1))
    done
    printf 'unessential: no free system id in 100..999 in %s\n' "$*" >&2
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

# _ue_add_group NAME [FILE...]: create the system group NAME unless it exists, with
# the lowest id in 100..999 free in /etc/group (and in each FILE); set _ue_gid.
_ue_add_group() {
    _ue_name=$1
    shift
    if _ue_gid=$(_ue_id "$_ue_name" "$DPKG_ROOT/etc/group"); then
        return 0
    fi
    _ue_gid=$(_ue_free_id '' "$DPKG_ROOT/etc/group" "$@") || exit 1
    _ue_edit "$DPKG_ROOT/etc/group" add "$_ue_name" "$_ue_name:x:$_ue_gid:"
    if [ -f "$DPKG_ROOT/etc/gshadow" ]; then
        _ue_edit "$DPKG_ROOT/etc/gshadow" add "$_ue_name" "$_ue_name:!::"
    fi
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
        if ! _ue_has 'foo' "$DPKG_ROOT/etc/passwd"; then
            _ue_add_group 'foo' "$DPKG_ROOT/etc/passwd"
            _ue_uid=$(_ue_free_id "$_ue_gid" "$DPKG_ROOT/etc/passwd") || exit 1
            _ue_edit "$DPKG_ROOT/etc/passwd" add 'foo' 'foo:x:'"$_ue_uid:$_ue_gid"'::/var/lib/foo:/usr/sbin/nologin'
            if [ -f "$DPKG_ROOT/etc/shadow" ]; then
                _ue_edit "$DPKG_ROOT/etc/shadow" add 'foo' 'foo:!:::::::'
            fi
        fi
        ;;
esac

case "$1" in
    configure|abort-upgrade)
        dpkg-maintscript-helper rm_conffile '/etc/foo/x' '' 'foo' -- "$@"
        ;;
esac

case "$1" in
    configure)
        if ! _ue_has 'adm' "$DPKG_ROOT/etc/group"; then
            printf 'unessential: cannot add %s to the missing group %s\n' 'foo' 'adm' >&2
            exit 1
        fi
        _ue_edit "$DPKG_ROOT/etc/group" member 'adm' 'foo'
        if [ -f "$DPKG_ROOT/etc/gshadow" ]; then
            _ue_edit "$DPKG_ROOT/etc/gshadow" member 'adm' 'foo'
        fi

        mkdir -p -- "$DPKG_ROOT"'/var/log/foo'
        _ue_chown 'foo' 'adm' "$DPKG_ROOT"'/var/log/foo'

        if command -v ldconfig >/dev/null 2>&1; then
            ldconfig ${DPKG_ROOT:+-r "$DPKG_ROOT"}
        fi
        ;;
esac

case "$1" in
    triggered)
        dpkg-trigger --no-await 'foo-cache'
        ;;
esac

if command -v systemd-tmpfiles >/dev/null 2>&1; then
    systemd-tmpfiles ${DPKG_ROOT:+--root="$DPKG_ROOT"} --create 'foo.conf' || true
fi

exit 0
