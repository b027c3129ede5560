"""The action vocabulary as typed models: one model + one template + one apply function
per action, the `actions` control file round-trips them, values are typed and checked."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from base.deb822 import iter_stanzas
from bootstrap.apply import APPLY
from recipes.actions import (
    ANY_ACTION,
    MODELS,
    VOCABULARY,
    Action,
    ActionError,
    AlternativeInstall,
    MakeDir,
    PythonCompile,
    RemovePath,
    Slave,
    SystemUser,
    Trigger,
    action_error,
    action_from_stanza,
    make_action,
    read_actions_file,
    render_actions_file,
)
from rewrite.render import TEMPLATE_OF, TEMPLATES, render_script
from rewrite.translate import translate
from tests.test_render import SAMPLES

ACTION_TEMPLATES = TEMPLATES / "actions"

# The `actions` file format: action -> (required fields, optional fields and defaults).
DOCUMENTED = {
    "system-group": (("Name",), {"Gid": ""}),
    "system-user": (("Name",), {"Home": "/nonexistent", "Shell": "/usr/sbin/nologin",
                                "Group": "", "Gecos": "", "Create-Home": "no"}),
    "user-in-group": (("User", "Group"), {}),
    "remove-user": (("Name",), {}),
    "remove-group": (("Name",), {}),
    "shadow-passwords": ((), {}),
    "alternative-install": (("Name", "Link", "Path", "Priority"), {"Slaves": ""}),
    "alternative-remove": (("Name", "Path"), {}),
    "ldconfig": ((), {}),
    "rm-conffile": (("Conffile",), {"Prior-Version": "", "Package": ""}),
    "mv-conffile": (("Old", "New"), {"Prior-Version": "", "Package": ""}),
    "symlink-to-dir": (("Pathname", "Old-Target"), {"Prior-Version": "", "Package": ""}),
    "dir-to-symlink": (("Pathname", "New-Target"), {"Prior-Version": "", "Package": ""}),
    "ca-bundle": ((), {"Trust-New": "no"}),
    "python-compile": (("Package",), {"Dirs": "", "Interpreter": "python3"}),
    "python-clean": (("Package",), {"Interpreter": "python3"}),
    "info-dir": (("File",), {"Remove": "no"}),
    "update-cache": (("Kind",), {"Path": ""}),
    "update-shells": ((), {}),
    "pam-auth-update": ((), {"Force": "no", "Remove": ""}),
    "nss-service": (("Databases", "Service"), {"Remove": "no"}),
    "system-identity": (("Kind",), {}),
    "make-dir": (("Path",), {"Mode": "", "Owner": "", "Group": ""}),
    "remove-path": (("Path",), {"Recursive": "no"}),
    "remove-found": (("Path",), {"Max-Depth": "", "Type": "", "Name": "", "Link-Name": "",
                                 "Empty": "no"}),
    "prune-links": (("Path",), {}),
    "move-path": (("Source", "Path"), {}),
    "copy-path": (("Source", "Path"), {"Preserve": "no"}),
    "set-owner": (("Path",), {"Owner": "", "Group": "", "Mode": ""}),
    "set-capability": (("Path",), {"Capabilities": "", "Setuid-Fallback": "no",
                                   "Remove": "no"}),
    "stat-override": (("Path",), {"Owner": "", "Group": "", "Mode": "", "Remove": "no"}),
    "divert": (("Path",), {"Divert-To": "", "Package": "", "Rename": "no", "Remove": "no"}),
    "symlink": (("Path", "Target"), {}),
    "create-file": (("Path",), {"Content": "", "Mode": "", "Owner": "", "Group": ""}),
    "install-config": (("Source", "Path"), {}),
    "trigger": (("Name",), {"Await": "no"}),
    "tmpfiles": ((), {"Config": ""}),
    "sysusers": ((), {"Config": ""}),
    "record-test": (("Name",), {}),
    "fail": ((), {"Status": "1", "Message": ""}),
    "random-secret": (("Path",), {"Mode": "0600"}),
    "node-directory": (("Path",), {"Owner": "", "Group": "", "Mode": ""}),
}


def sample(key: str) -> Action:
    name, script, on, values = SAMPLES[key]
    return make_action(name, script, on, values)


# -- one model, one template, one apply function -------------------------------------------
def test_every_model_has_its_template_and_every_template_its_model() -> None:
    templates = {path.name.removesuffix(".sh.j2") for path in ACTION_TEMPLATES.glob("*.j2")}
    assert templates == set(MODELS), (
        f"models without a template: {sorted(set(MODELS) - templates)}; "
        f"templates without a model: {sorted(templates - set(MODELS))}")
    assert set(TEMPLATE_OF) == set(MODELS.values())
    for model, template in TEMPLATE_OF.items():
        assert (TEMPLATES / template).is_file(), (model.__name__, template)


def test_every_model_has_its_apply_function_and_every_apply_function_its_model() -> None:
    missing = sorted(name for name, model in MODELS.items() if model not in APPLY)
    assert not missing, f"models without an apply function: {missing}"
    strays = sorted(model.__name__ for model in APPLY if model not in MODELS.values())
    assert not strays, f"apply functions for no model of the vocabulary: {strays}"


def test_models_are_told_apart_by_their_name() -> None:
    for name, model in MODELS.items():
        assert model.action_name() == name
        assert model.model_fields["name"].alias == "Action"
    assert len({model.__name__ for model in MODELS.values()}) == len(MODELS)
    action = ANY_ACTION.validate_python(
        {"Action": "make-dir", "Script": "postinst", "On": "configure", "Path": "/var/lib/x"})
    assert isinstance(action, MakeDir) and action.path == "/var/lib/x"
    with pytest.raises(ValidationError):
        ANY_ACTION.validate_python({"Action": "frobnicate", "Script": "postinst", "On": ""})


def test_the_vocabulary_is_the_documented_file_format() -> None:
    assert VOCABULARY == DOCUMENTED
    assert list(MODELS) == list(DOCUMENTED)  # in the order of recipes/README.md
    for name, model in MODELS.items():
        required, optional = DOCUMENTED[name]
        assert list(model.field_names()) == [*required, *optional]


def test_samples_cover_the_vocabulary() -> None:
    assert {SAMPLES[key][0] for key in SAMPLES} == set(MODELS)


# -- the actions control file ---------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_actions_file_round_trips(key: str) -> None:
    action = sample(key)
    assert isinstance(action, MODELS[action.name])
    text = render_actions_file([action])
    (again,) = read_actions_file(text)
    assert again == action and type(again) is type(action)
    assert render_actions_file([again]) == text
    assert action_from_stanza(again.stanza()) == action


def test_actions_file_text_is_as_before() -> None:
    actions = [
        make_action("system-user", "postinst", ["configure"],
                    {"name": "app", "home": "/var/lib/app", "group": "app", "gecos": "",
                     "create_home": "no"}),
        make_action("make-dir", "postinst", ["configure", "abort-upgrade"],
                    {"path": "/var/lib/app", "mode": "0750"}),
        make_action("alternative-install", "postinst", ["configure"],
                    {"name": "x", "link": "/usr/bin/x", "path": "/usr/bin/x.real",
                     "priority": "-5", "slaves": "\n/usr/share/man/man1/x.1.gz x.1.gz "
                                                 "/usr/share/man/man1/x.real.1.gz"}),
        make_action("ldconfig", "postinst", ["configure"]),
    ]
    assert render_actions_file(actions) == (
        "Action: system-user\nScript: postinst\nOn: configure\nName: app\n"
        "Home: /var/lib/app\nGroup: app\nCreate-Home: no\n"
        "\n"
        "Action: make-dir\nScript: postinst\nOn: configure abort-upgrade\n"
        "Path: /var/lib/app\nMode: 0750\n"
        "\n"
        "Action: alternative-install\nScript: postinst\nOn: configure\nName: x\n"
        "Link: /usr/bin/x\nPath: /usr/bin/x.real\nPriority: -5\nSlaves:\n"
        " /usr/share/man/man1/x.1.gz x.1.gz /usr/share/man/man1/x.real.1.gz\n"
        "\n"
        "Action: ldconfig\nScript: postinst\nOn: configure\n"
    )
    assert render_actions_file([]) == ""
    assert [dict(s) for s in iter_stanzas(render_actions_file(actions))] == \
        [a.stanza() for a in actions]


# -- typed values ------------------------------------------------------------------------
def test_fields_are_typed_attributes() -> None:
    alternative = sample("alternative-install")
    assert isinstance(alternative, AlternativeInstall)
    assert alternative.alternative == "editor" and alternative.priority == 30
    assert alternative.slaves == (
        Slave("/usr/share/man/man1/editor.1.gz", "editor.1.gz", "/usr/share/man/man1/vim.1.gz"),
        Slave("/usr/bin/ex", "ex", "/usr/bin/vim.basic"))
    user = sample("system-user")
    assert isinstance(user, SystemUser) and user.create_home is True and user.user == "foo"
    assert user.get("Create-Home") == "yes" and user.get("Shell") == "/usr/sbin/nologin"
    assert sample("trigger").get("Await") == "no"
    trigger, compile_ = sample("trigger-await"), sample("python-compile")
    assert isinstance(trigger, Trigger) and trigger.wait is True
    assert isinstance(compile_, PythonCompile)
    assert compile_.dirs == ("/usr/share/foo", "/usr/lib/foo")
    for spelling, value in (("yes", True), ("true", True), ("1", True), ("no", False),
                            ("false", False), ("0", False)):
        action = make_action("remove-path", "postrm", ["purge"],
                             {"path": "/x", "recursive": spelling})
        assert isinstance(action, RemovePath) and action.recursive is value


def test_models_made_directly_are_checked_as_the_file_is() -> None:
    made = MakeDir(script="postinst", on=("configure",), path="/var/lib/x", mode="0755")
    assert made == make_action("make-dir", "postinst", ["configure"],
                               {"path": "/var/lib/x", "mode": "0755"})
    cases = [
        (lambda: MakeDir(script="postinst", on=("configure",), path="var/lib/x"),
         "action make-dir: Path 'var/lib/x' is not an absolute path"),
        (lambda: SystemUser(script="postinst", on=("configure",), user="bad user"),
         "action system-user: Name 'bad user' is not a valid name"),
        (lambda: SystemUser(script="postinst", on=("configure",)),
         "action system-user: missing field(s) Name"),
        (lambda: MakeDir(script="postinst", on=("configure",), path="/x", bogus="1"),
         "action make-dir: unknown field(s) bogus"),
        (lambda: MakeDir(script="postinstt", on=("configure",), path="/x"),
         "unknown maintainer script 'postinstt'"),
        (lambda: MakeDir(script="postinst", on=("configur",), path="/x"),
         "unknown script argument(s) configur"),
        (lambda: AlternativeInstall(script="postinst", on=("configure",), alternative="x",
                                    link="/x", path="/y", priority="1; rm"),
         "action alternative-install: Priority '1; rm' is not an integer priority"),
    ]
    for make, message in cases:
        with pytest.raises(ValidationError) as info:
            make()
        assert isinstance(info.value, ValueError)
        assert str(action_error(info.value)).startswith(message), str(action_error(info.value))


def test_actions_are_frozen_and_hashable() -> None:
    action = sample("make-dir")
    with pytest.raises(ValidationError):
        action.path = "/elsewhere"  # type: ignore[misc]
    assert len({action, sample("make-dir")}) == 1


def test_make_action_errors_are_action_errors() -> None:
    with pytest.raises(ActionError, match="unknown action 'frob'"):
        make_action("frob", "postinst", ["configure"])
    with pytest.raises(ActionError, match=r"action make-dir: missing field\(s\) Path"):
        make_action("make-dir", "postinst", ["configure"], {"path": ""})
    with pytest.raises(ActionError, match="Kind must be one of mime"):
        make_action("update-cache", "postinst", ["configure"], {"kind": "bogus"})


# -- producers and consumers work on the models ------------------------------------------
def test_translator_produces_models_the_renderer_and_file_take() -> None:
    text = ("#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n"
            "    adduser --system --group --home /var/lib/app app\n"
            "    update-alternatives --install /usr/bin/x x /usr/bin/x.real 20\n"
            "    dpkg-trigger --no-await /usr/share/app\nfi\n")
    result = translate(text, "postinst", package="app")
    assert [type(a).__name__ for a in result.actions] == \
        ["SystemGroup", "SystemUser", "AlternativeInstall", "Trigger"]
    assert all(isinstance(a, MODELS[a.name]) for a in result.actions)
    assert [a.origin for a in result.actions] == \
        ["postinst:4", "postinst:4", "postinst:5", "postinst:6"]
    assert read_actions_file(render_actions_file(result.actions)) == \
        [a.model_copy(update={"origin": ""}) for a in result.actions]
    script = render_script("postinst", result.actions, package="app")
    assert script is not None and "dpkg-trigger --no-await '/usr/share/app'" in script
