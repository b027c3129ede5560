"""File capabilities as setcap(8) writes them (cap_from_text's syntax): clauses such as
`cap_net_raw+ep` or `cap_dac_override,cap_sys_admin=ep`, each a list of capability
names (none, or `all`: every one) and operators `=` (exactly these flags), `+` (add),
`-` (drop) on the flags e (effective), i (inheritable), p (permitted). Linux keeps one
effective bit for a file: the effective flags must be none, or exactly the union of
the permitted and inheritable ones (setcap refuses the rest, and so does this)."""

from __future__ import annotations

import re

# the capability numbers of linux/capability.h (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE)
NAMES = (
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
    "setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
    "net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio",
    "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
    "audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
    "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
)
ALL = (1 << len(NAMES)) - 1
_CLAUSE = re.compile(r"(?P<names>[a-z_0-9,]*)(?P<ops>(?:[=+-][eip]*)+)")
_OP = re.compile(r"([=+-])([eip]*)")


def parse_capabilities(text: str) -> tuple[int, int, bool]:
    """(permitted, inheritable, effective) of a capability text; ValueError naming the
    problem if setcap would not take it."""
    flags = {"e": 0, "i": 0, "p": 0}
    clauses = text.lower().split()
    if not clauses:
        raise ValueError("no capabilities")
    for clause in clauses:
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            raise ValueError(f"{clause!r} is not a capability clause such as cap_net_raw+ep")
        mask = 0
        for name in match.group("names").split(",") if match.group("names") else ["all"]:
            if name == "all":
                mask |= ALL
            elif name.startswith("cap_") and name[4:] in NAMES:
                mask |= 1 << NAMES.index(name[4:])
            else:
                raise ValueError(f"unknown capability {name!r}")
        for op, letters in _OP.findall(match.group("ops")):
            if op == "=":
                for flag in flags:
                    flags[flag] &= ~mask
            for flag in letters:
                flags[flag] = flags[flag] & ~mask if op == "-" else flags[flag] | mask
    either = flags["p"] | flags["i"]
    if flags["e"] and flags["e"] != either:
        raise ValueError("effective capabilities must be none or exactly the permitted and "
                         "inheritable ones")
    if not either:
        raise ValueError("no capability is permitted or inheritable")
    return flags["p"], flags["i"], bool(flags["e"])
