"""/etc/pam.d/common-* as libpam-runtime's pam-auth-update writes them (pure functions).

What the tool does (libpam-runtime 1.5.2, bookworm), as its manual and its behaviour
say, for a system whose managed blocks carry no local edit (an image):

- the profiles are the files of /usr/share/pam-configs (not `*~`, not `#...#`; one
  naming pam_tally is disabled), each a set of `Field: value` lines with indented
  continuation lines; a profile without `Session-Interactive-Only` also gives its
  Session fields to session-noninteractive;
- the profiles enabled are those enabled before (the `Module:` names of the state in
  /var/lib/pam) that still exist and are not being removed, then each profile with
  `Default: yes` not seen before (/var/lib/pam/seen); with none enabled before, every
  `Default: yes` profile. They are sorted by `Priority` (highest first), then by name
  (last first); a profile conflicting with an earlier one is dropped;
- with no state to start from and no `--force`, nothing is written (the tool keeps what
  it takes for local changes);
- each common-TYPE is its template (/usr/share/pam/common-TYPE) with the lines of the
  enabled profiles of that TYPE in its "Primary" and "Additional" blocks (a profile's
  `TYPE-Initial` lines where it comes first), `end` in a jump replaced by the number of
  lines left in the block ("Additional": one fewer); an empty primary block gets a
  `pam_permit.so` line. The state /var/lib/pam/TYPE lists each enabled profile's lines
  after `Module: NAME`; /var/lib/pam/seen every profile.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

TYPES = ("auth", "account", "password", "session", "session-noninteractive")
PRIMARY = '# here are the per-package modules (the "Primary" block)'
FALLBACK = "# here's the fallback if no module succeeds"
ADDITIONAL = '# and here are more per-package modules (the "Additional" block)'
END = "# end of pam-auth-update config"
_INVALID = ("pam_tally",)


@dataclass
class Profile:
    name: str
    fields: dict[str, str] = field(default_factory=dict)
    conflicts: set[str] = field(default_factory=set)
    disabled: bool = False

    @property
    def priority(self) -> int:
        try:
            return int(self.fields.get("Priority", "0").split()[0])
        except (ValueError, IndexError):
            return 0


def parse_profile(name: str, text: str) -> Profile:
    """One file of /usr/share/pam-configs."""
    profile = Profile(name)
    current = ""
    for raw in text.split("\n"):
        match = re.match(r"(\S+):(?:\s+(.*))?$", raw)  # ("Auth:" ends its line)
        if match:
            current = re.sub(r"-Final$", "", match.group(1))
            value = match.group(2) or ""
            if current == "Conflicts":
                profile.conflicts |= set(value.split(", "))
            else:
                profile.fields[current] = value
            continue
        line = raw.strip()
        if current and line:
            joined = profile.fields.get(current, "") + "\n" + line
            profile.fields[current] = joined.lstrip("\n \t")
            if any(module in profile.fields[current] for module in _INVALID):
                profile.disabled = True
    if "Session-Interactive-Only" not in profile.fields:
        for suffix in ("-Type", "", "-Initial"):
            if f"Session{suffix}" in profile.fields:
                profile.fields[f"Session-noninteractive{suffix}"] = \
                    profile.fields[f"Session{suffix}"]
    return profile


def profile_names(names: Sequence[str]) -> list[str]:
    """The file names pam-auth-update reads (no backups, no editor's autosaves)."""
    return [n for n in names if n not in (".", "..") and not n.endswith("~")
            and not re.fullmatch(r"#.+#", n)]


def _sorted(profiles: Mapping[str, Profile], names: Sequence[str]) -> list[str]:
    return sorted(names, key=lambda n: (-profiles[n].priority, _descending(n)))


def _descending(name: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in name) + (1,)  # `$b cmp $a`: a longer name comes first


@dataclass
class Written:
    """What one run writes: path (relative to the root) -> text; `backups`: the common
    files copied to `.pam-old` first (with --force)."""

    files: dict[str, str]
    backups: list[str]


def update(profiles: Mapping[str, Profile], templates: Mapping[str, str],
           state: Mapping[str, str] | None, seen: set[str], current: Mapping[str, str],
           *, force: bool, remove: Sequence[str] = ()) -> Written | None:
    """The files pam-auth-update --package writes (None: it writes nothing).

    `templates`: TYPE -> /usr/share/pam/common-TYPE; `state`: TYPE -> /var/lib/pam/TYPE
    (None where one is missing: then only --force writes); `current`: TYPE ->
    /etc/pam.d/common-TYPE where it exists (its text outside the managed blocks is
    kept). Edits inside the managed blocks are not merged as the tool does: an image
    has none."""
    usable = {n: p for n, p in profiles.items() if not p.disabled}
    ordered = [n for n in _sorted(usable, list(usable)) if n not in remove]
    if state is not None:
        enabled = [n for n in _enabled_before(state) if n not in remove]
    else:
        enabled = []
        if not force:
            return None
    enabled = [n for n in enabled if n in usable]
    if not enabled:
        seen = set()
    enabled += [n for n in ordered if usable[n].fields.get("Default") == "yes"
                and n not in seen]
    enabled = list(dict.fromkeys(_sorted(usable, enabled)))
    for name in list(enabled):  # conflicts: the later of each pair goes
        if name not in enabled:
            continue
        enabled = [other for other in enabled
                   if other not in usable[name].conflicts]
    files: dict[str, str] = {"var/lib/pam/seen": "".join(f"{n}\n" for n in ordered)}
    backups: list[str] = []
    for kind in TYPES:  # the current file is the template, where it has the markers
        try:
            text = _common(current[kind], usable, enabled, kind) if kind in current \
                else None
        except ValueError:
            text = None
        if text is None and not force:
            break  # (the tool stops there, the files before written)
        if text is None:
            text = _common(templates[kind], usable, enabled, kind)
        files[f"etc/pam.d/common-{kind}"] = text
        files[f"var/lib/pam/{kind}"] = _saved(usable, enabled, kind)
        if force and kind in current:
            backups.append(f"etc/pam.d/common-{kind}")
    return Written(files, backups)


def _enabled_before(state: Mapping[str, str]) -> list[str]:
    names: list[str] = []
    for kind in TYPES:
        for line in state.get(kind, "").split("\n"):
            if line.startswith("Module: ") and line[8:] != "null":
                names.append(line[8:])
    return list(dict.fromkeys(names))


def _field(kind: str) -> str:
    """The profile's field of a TYPE (`auth`: Auth, `session-noninteractive`:
    Session-noninteractive)."""
    return kind[0].upper() + kind[1:]


def _lines(profile: Profile, kind: str, first: bool) -> str:
    field_name = _field(kind)
    if first and profile.fields.get(f"{field_name}-Initial"):
        return profile.fields[f"{field_name}-Initial"]
    return profile.fields.get(field_name, "")


def _of_type(profiles: Mapping[str, Profile], enabled: Sequence[str], kind: str,
             block: str) -> list[tuple[str, str]]:
    """(name, lines) of each enabled profile in `block` of `kind`, in order."""
    field_name = _field(kind)
    chosen = [n for n in enabled if profiles[n].fields.get(f"{field_name}-Type") == block]
    return [(n, _lines(profiles[n], kind, index == 0)) for index, n in enumerate(chosen)]


def _merge_line(line: str, count: int) -> str:
    match = re.match(r"((\[[^]]+\]|\w+)\s+\S+)\s*(.*)", line)
    if match is None:
        return line + "\n"
    head = match.group(1).replace("end", str(count))
    return head + " " + " ".join(match.group(3).split()) + "\n"


def _block(profiles: Mapping[str, Profile], enabled: Sequence[str], kind: str,
           block: str) -> str:
    prefix = kind.replace("-noninteractive", "")
    entries = _of_type(profiles, enabled, kind, block)
    count = sum(len([x for x in re.split(r"\n+", text) if x]) if text else 0
                for _, text in entries)
    out = ""
    if block == "Additional":
        count -= 1
    if block == "Primary" and count == 0:
        out += f"{prefix}\t[default=1]\t\t\tpam_permit.so\n"
    for _, text in entries:
        for line in text.split("\n") if text else []:
            out += f"{prefix}\t{_merge_line(line, count)}"
            count -= 1
    return out


def _common(template: str, profiles: Mapping[str, Profile], enabled: Sequence[str],
            kind: str) -> str:
    out, state = "", 0
    for line in template.splitlines(keepends=True):
        if state == 1:
            if line.startswith(FALLBACK):
                out += line
                state = 2
            continue
        if state == 3:
            if line.startswith(END):
                out += line
                state = 4
            continue
        out += line
        if state == 0 and line.startswith(PRIMARY):
            out += _block(profiles, enabled, kind, "Primary")
            state = 1
        elif state == 2 and line.startswith(ADDITIONAL):
            out += _block(profiles, enabled, kind, "Additional")
            state = 3
    if state < 4:
        raise ValueError(f"the template of common-{kind} lacks pam-auth-update's markers")
    return out


def _saved(profiles: Mapping[str, Profile], enabled: Sequence[str], kind: str) -> str:
    out = ""
    primary = _of_type(profiles, enabled, kind, "Primary")
    for name, text in primary:
        if text:
            out += f"Module: {name}\n{text}\n"
    if not primary:
        out += "Module: null\n[default=1]\t\t\tpam_permit.so\n"
    for name, text in _of_type(profiles, enabled, kind, "Additional"):
        if text:
            out += f"Module: {name}\n{text}\n"
    return out
