"""The closed vocabulary: every action model, by name, and their union."""

from __future__ import annotations

from typing import Annotated, get_args

from pydantic import Field, TypeAdapter

from recipes.actions.accounts import (
    RemoveGroup,
    RemoveUser,
    ShadowPasswords,
    SystemGroup,
    SystemUser,
    Sysusers,
    UserInGroup,
)
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
from recipes.actions.model import Action
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

# Any action, told apart by its name (`Action:` in deb822).
AnyAction = Annotated[
    SystemGroup | SystemUser | UserInGroup | RemoveUser | RemoveGroup | ShadowPasswords
    | AlternativeInstall | AlternativeRemove | Ldconfig
    | RmConffile | MvConffile | SymlinkToDir | DirToSymlink
    | CaBundle | PythonCompile | PythonClean | InfoDir | UpdateCache | UpdateShells
    | PamAuthUpdate | NssService | SystemIdentity
    | MakeDir | RemovePath | RemoveFound | PruneLinks | MovePath | CopyPath | SetOwner
    | SetCapability | StatOverride | Divert | Symlink | CreateFile
    | InstallConfig
    | Trigger | Tmpfiles | Sysusers | RecordTest | Fail | RandomSecret | NodeDirectory,
    Field(discriminator="name"),
]
ANY_ACTION: TypeAdapter[AnyAction] = TypeAdapter(AnyAction)

# action name -> its model, in the order of the union
MODELS: dict[str, type[Action]] = {
    model.action_name(): model for model in get_args(get_args(AnyAction)[0])
}


def _vocabulary(model: type[Action]) -> tuple[tuple[str, ...], dict[str, str]]:
    required: list[str] = []
    optional: dict[str, str] = {}
    for alias, field in model.field_names().items():
        info = model.model_fields[field]
        if info.is_required():
            required.append(alias)
        else:
            optional[alias] = model.field_text(field, info.default)
    return tuple(required), optional


# Action name -> (required fields, optional fields with the text of their defaults)
VOCABULARY: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    name: _vocabulary(model) for name, model in MODELS.items()
}
