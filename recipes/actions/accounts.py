"""Actions on users and groups."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from recipes.actions.fields import (
    AccountName,
    AccountPath,
    ConfigFiles,
    FixedId,
    Gecos,
    OptionalAccountName,
    YesNo,
)
from recipes.actions.model import Action


class SystemGroup(Action):
    """Create a system group if missing (addgroup --system, groupadd); with `Gid`, a
    fixed id (groupadd -g 42): the group is made with it, and it is an error that the
    group exists with another id or that another group has it."""

    name: Literal["system-group"] = Field("system-group", alias="Action")
    group: AccountName = Field(alias="Name")
    gid: FixedId = Field("", alias="Gid")


class SystemUser(Action):
    """Create a system user (and its group) if missing (adduser --system, useradd -r)."""

    name: Literal["system-user"] = Field("system-user", alias="Action")
    user: AccountName = Field(alias="Name")
    home: AccountPath = Field("/nonexistent", alias="Home")
    shell: AccountPath = Field("/usr/sbin/nologin", alias="Shell")
    group: OptionalAccountName = Field("", alias="Group")
    gecos: Gecos = Field("", alias="Gecos")
    create_home: YesNo = Field(False, alias="Create-Home")


class UserInGroup(Action):
    """Add an existing user to a group (adduser USER GROUP)."""

    name: Literal["user-in-group"] = Field("user-in-group", alias="Action")
    user: AccountName = Field(alias="User")
    group: AccountName = Field(alias="Group")


class RemoveUser(Action):
    """Remove a system user (postrm purge), as deluser's userdel does: with
    USERGROUPS_ENAB yes in /etc/login.defs, the group named after the user too, where it
    is the user's primary group, has no members and is no other user's primary group."""

    name: Literal["remove-user"] = Field("remove-user", alias="Action")
    user: AccountName = Field(alias="Name")


class RemoveGroup(Action):
    """Remove a system group (postrm purge)."""

    name: Literal["remove-group"] = Field("remove-group", alias="Action")
    group: AccountName = Field(alias="Name")


class ShadowPasswords(Action):
    """Keep the passwords in /etc/shadow and /etc/gshadow (shadowconfig on: pwconv,
    grpconv): an entry there for each account, `x` in /etc/passwd and /etc/group; the
    shadow files root:shadow 0640."""

    name: Literal["shadow-passwords"] = Field("shadow-passwords", alias="Action")


class Sysusers(Action):
    """Create the users a sysusers.d file declares (systemd-sysusers)."""

    name: Literal["sysusers"] = Field("sysusers", alias="Action")
    config: ConfigFiles = Field((), alias="Config")
