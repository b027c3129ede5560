"""The closed vocabulary of declarative maintainer-script actions, as typed models.

Each rewritten binary package carries its actions as a deb822 control file named
`actions` (one stanza per action). An installer applies them with no interpreter;
`recipes/templates/` renders the same actions as minimal POSIX sh, so stock dpkg
still installs the package. Every action says when it applies: the maintainer
script (`Script`) and the values of its first argument (`On`, e.g. `configure`).

One action is one pydantic model (`accounts`, `files`, `system`), discriminated by its
name (`AnyAction`); its fields are typed attributes whose aliases are the deb822 field
names, checked when the model is made (`fields`, `checks`). A new action is one model
(listed in `vocabulary.AnyAction`), one template `recipes/templates/actions/<name>.sh.j2`
(rendered by `rewrite.render`) and one apply function (`bootstrap.apply`);
tests/test_action_vocabulary.py fails if any of the three is missing.

The vocabulary, with its fields and meaning, is documented in `recipes/README.md`.

Dropped, never turned into actions (recorded in the report with a reason): init
system hooks (deb-systemd-helper, deb-systemd-invoke, invoke-rc.d, update-rc.d,
systemctl: no init in a container) and debconf questions (answered by the recipe or
the template's default).
"""

from recipes.actions.accounts import (
    RemoveGroup,
    RemoveUser,
    ShadowPasswords,
    SystemGroup,
    SystemUser,
    Sysusers,
    UserInGroup,
)
from recipes.actions.checks import (
    ACCOUNT_NAME,
    ACCOUNT_NAME_MAX,
    check_account_name,
    check_account_path,
    check_alternative_name,
    check_gecos,
    check_owner,
    check_path,
    check_slaves,
)
from recipes.actions.control import (
    action_from_stanza,
    make_action,
    read_actions_file,
    render_actions_file,
)
from recipes.actions.fields import CACHE_KINDS, PHASES, SCRIPTS, Slave
from recipes.actions.files import (
    CopyPath,
    CreateFile,
    DirToSymlink,
    Divert,
    InstallConfig,
    MakeDir,
    MovePath,
    MvConffile,
    PruneLinks,
    RemoveFound,
    RemovePath,
    RmConffile,
    SetCapability,
    SetOwner,
    StatOverride,
    Symlink,
    SymlinkToDir,
    Tmpfiles,
)
from recipes.actions.model import Action, ActionError, action_error
from recipes.actions.report import Dropped, ScriptReport
from recipes.actions.system import (
    AlternativeInstall,
    AlternativeRemove,
    CaBundle,
    Fail,
    InfoDir,
    Ldconfig,
    NodeDirectory,
    NssService,
    PamAuthUpdate,
    PythonClean,
    PythonCompile,
    RandomSecret,
    RecordTest,
    SystemIdentity,
    Trigger,
    UpdateCache,
    UpdateShells,
)
from recipes.actions.vocabulary import ANY_ACTION, MODELS, VOCABULARY, AnyAction

__all__ = [
    "ACCOUNT_NAME", "ACCOUNT_NAME_MAX", "ANY_ACTION", "CACHE_KINDS", "MODELS", "PHASES",
    "SCRIPTS", "VOCABULARY", "Action", "ActionError", "AlternativeInstall", "AlternativeRemove",
    "AnyAction", "CaBundle", "CopyPath", "CreateFile", "DirToSymlink", "Divert", "Dropped",
    "Fail", "InfoDir",
    "InstallConfig", "Ldconfig", "MakeDir", "MovePath", "MvConffile", "NodeDirectory", "NssService",
    "PamAuthUpdate",
    "PruneLinks", "PythonClean",
    "PythonCompile", "RandomSecret", "RecordTest",
    "RemoveFound", "RemoveGroup", "RemovePath", "RemoveUser", "RmConffile", "ScriptReport",
    "SetCapability",
    "SetOwner",
    "ShadowPasswords",
    "SystemIdentity",
    "Slave", "StatOverride", "Symlink", "SymlinkToDir", "SystemGroup", "SystemUser",
    "Sysusers", "Tmpfiles",
    "Trigger", "UpdateCache", "UpdateShells", "UserInGroup", "action_error", "action_from_stanza",
    "check_account_name", "check_account_path", "check_alternative_name", "check_gecos",
    "check_owner", "check_path", "check_slaves", "make_action", "read_actions_file",
    "render_actions_file",
]
