"""Actions on the state of the system: alternatives, caches, byte-code, triggers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from recipes.actions.fields import (
    AbsolutePath,
    AlternativeName,
    AlternativePath,
    ExitStatus,
    FileNames,
    FlagName,
    Identity,
    Interpreter,
    Kind,
    Message,
    Names,
    OctalMode,
    OptionalPath,
    Owner,
    PackageName,
    Paths,
    Priority,
    Slaves,
    Word,
    YesNo,
)
from recipes.actions.model import Action


class AlternativeInstall(Action):
    """Register an alternative (update-alternatives --install), with its slaves."""

    name: Literal["alternative-install"] = Field("alternative-install", alias="Action")
    alternative: AlternativeName = Field(alias="Name")
    link: AbsolutePath = Field(alias="Link")
    path: AbsolutePath = Field(alias="Path")
    priority: Priority = Field(alias="Priority")
    slaves: Slaves = Field((), alias="Slaves")


class AlternativeRemove(Action):
    """Unregister one alternative (`Path: *`: all of them)."""

    name: Literal["alternative-remove"] = Field("alternative-remove", alias="Action")
    alternative: AlternativeName = Field(alias="Name")
    path: AlternativePath = Field(alias="Path")


class RecordTest(Action):
    """Remember whether the `Only-If` tests hold now, as the flag `Name`, for the
    `flag NAME` test of later actions of the same run of the script: an original's test
    of the system read once, before a change of the script itself turns it (the removal
    of the stat override a test found). Nothing else changes; where the tests fail the
    flag is false."""

    name: Literal["record-test"] = Field("record-test", alias="Action")
    flag: FlagName = Field(alias="Name")


class Fail(Action):
    """The script fails here, with `Status`, printing `Message` on stderr: an original's
    check of the system that refuses to go on (`[ -e X ] || { echo ...; exit 1; }`),
    taken where its `Only-If` holds. What follows it is not taken; on install, the
    package cannot be installed there (bootstrap stops with the message)."""

    name: Literal["fail"] = Field("fail", alias="Action")
    status: ExitStatus = Field(1, alias="Status")
    message: Message = Field("", alias="Message")


class Ldconfig(Action):
    """Refresh the ld.so cache."""

    name: Literal["ldconfig"] = Field("ldconfig", alias="Action")


class CaBundle(Action):
    """Update /etc/ssl/certs as update-ca-certificates does: a `.pem` link per trusted
    certificate, the subject-hash links of `openssl rehash`, the bundle
    ca-certificates.crt. With Trust-New, first write or merge /etc/ca-certificates.conf
    as ca-certificates' postinst does when every certificate is trusted."""

    name: Literal["ca-bundle"] = Field("ca-bundle", alias="Action")
    trust_new: YesNo = Field(False, alias="Trust-New")


class PythonCompile(Action):
    """Byte-compile a package's Python modules (py3compile; pypy3compile for pypy3)."""

    name: Literal["python-compile"] = Field("python-compile", alias="Action")
    package: PackageName = Field(alias="Package")
    dirs: Paths = Field((), alias="Dirs")
    interpreter: Interpreter = Field("python3", alias="Interpreter")


class PythonClean(Action):
    """Remove a package's byte-compiled files (py3clean, pyclean; pypy3clean)."""

    name: Literal["python-clean"] = Field("python-clean", alias="Action")
    package: PackageName = Field(alias="Package")
    interpreter: Interpreter = Field("python3", alias="Interpreter")


class InfoDir(Action):
    """Add (or remove) an Info file in the Info directory (install-info)."""

    name: Literal["info-dir"] = Field("info-dir", alias="Action")
    file: AbsolutePath = Field(alias="File")
    remove: YesNo = Field(False, alias="Remove")


class UpdateCache(Action):
    """Refresh a cache of the kinds in CACHE_KINDS (update-mime-database, fc-cache ...)."""

    name: Literal["update-cache"] = Field("update-cache", alias="Action")
    kind: Kind = Field(alias="Kind")
    path: OptionalPath = Field("", alias="Path")


class UpdateShells(Action):
    """Bring /etc/shells up to date with the shells packages declare in
    /usr/share/debianutils/shells.d (update-shells)."""

    name: Literal["update-shells"] = Field("update-shells", alias="Action")


class PamAuthUpdate(Action):
    """Rewrite /etc/pam.d/common-* from the PAM profiles of /usr/share/pam-configs, as
    `pam-auth-update --package` does (`Force`: --force, over what it takes for local
    changes; `Remove`: --remove, those profiles dropped)."""

    name: Literal["pam-auth-update"] = Field("pam-auth-update", alias="Action")
    force: YesNo = Field(False, alias="Force")
    remove: FileNames = Field((), alias="Remove")


class SystemIdentity(Action):
    """Make what identifies one running system or is its secret, with its own tool:
    machine-id (systemd-machine-id-setup), dbus-machine-id (dbus-uuidgen --ensure),
    snakeoil-certificate (make-ssl-cert generate-default-snakeoil), rndc-key
    (rndc-confgen -a). The rendered sh runs the tool; bootstrap leaves it to the system
    that runs the image (the copies of an image would share it)."""

    name: Literal["system-identity"] = Field("system-identity", alias="Action")
    kind: Identity = Field(alias="Kind")


class RandomSecret(Action):
    """Write a new random secret to Path where nothing is there, as `install -m MODE
    /proc/sys/kernel/random/uuid PATH` does (a UUID, a line): a daemon's own secret
    (varnish's /etc/varnish/secret). The rendered sh makes it; bootstrap leaves it to
    the system that runs the image (the copies of an image would share it)."""

    name: Literal["random-secret"] = Field("random-secret", alias="Action")
    path: AbsolutePath = Field(alias="Path")
    mode: OctalMode = Field("0600", alias="Mode")


class NodeDirectory(Action):
    """Create the directory named after the node (`uname -n`) in Path where it is
    missing, with Owner, Group and Mode (`install -d -o U -g G PATH/$(uname -n)`:
    varnish's working directory). The rendered sh makes it; bootstrap leaves it to the
    system that runs the image (the node name is that system's, not the build's)."""

    name: Literal["node-directory"] = Field("node-directory", alias="Action")
    path: AbsolutePath = Field(alias="Path")
    owner: Owner = Field("", alias="Owner")
    group: Owner = Field("", alias="Group")
    mode: OctalMode = Field("", alias="Mode")


class NssService(Action):
    """Add an NSS service to databases of /etc/nsswitch.conf, as dh_installnss's
    postinst does (position last: after the database's services, before a comment;
    nothing where one of the databases names the service already), or (`Remove`) take
    it out of each, with its `[STATUS=action]` (its postrm)."""

    name: Literal["nss-service"] = Field("nss-service", alias="Action")
    databases: Names = Field(alias="Databases")
    service: Word = Field(alias="Service")
    remove: YesNo = Field(False, alias="Remove")


class Trigger(Action):
    """Activate a dpkg trigger (dpkg-trigger)."""

    name: Literal["trigger"] = Field("trigger", alias="Action")
    trigger: Word = Field(alias="Name")
    wait: YesNo = Field(False, alias="Await")
