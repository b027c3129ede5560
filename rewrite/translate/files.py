"""Files: mkdir, rm, rmdir, chown, chmod, ln -s, touch, and ucf (a default
configuration file)."""

from __future__ import annotations

import re

from recipes.actions import (
    Action,
    CopyPath,
    CreateFile,
    InstallConfig,
    MakeDir,
    MovePath,
    RandomSecret,
    RemoveFound,
    RemovePath,
    SetOwner,
    Symlink,
)
from rewrite.translate.context import Ctx, Handler, Idiom, Unmodelled, parse_options


def _h_mkdir(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], {"-m", "--mode"})
    if not rest:
        raise ValueError("mkdir without a directory")
    mode = opts.get("-m", opts.get("--mode", ""))
    return [MakeDir(script=ctx.script, on=ctx.phases, path=p, mode=mode) for p in rest]


def _h_rm(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    flags = "".join(k.lstrip("-") for k in opts)
    recursive = "r" in flags or "R" in flags or "--recursive" in opts
    if not rest:
        raise ValueError("rm without a path")
    for path in rest:
        if not path.startswith("/") or path.rstrip("/*") in ("", "/etc", "/usr", "/var"):
            raise ValueError(f"refuses to remove {path!r}")
    return [RemovePath(script=ctx.script, on=ctx.phases, path=p, recursive=recursive)
            for p in rest]


def _h_rmdir(argv: list[str], ctx: Ctx) -> list[Action]:
    _, rest = parse_options(argv[1:], set())
    return [RemovePath(script=ctx.script, on=ctx.phases, path=p, recursive=False)
            for p in rest]


def _h_chown(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    if len(rest) < 2 or any(k in opts for k in ("-R", "--recursive")):
        raise ValueError("chown of several or recursive paths")
    owner, group = _owner_group(rest[0])
    return [SetOwner(script=ctx.script, on=ctx.phases, path=p, owner=owner, group=group)
            for p in rest[1:]]


def _h_chgrp(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    if len(rest) < 2 or opts:
        raise ValueError("chgrp with options")
    return [SetOwner(script=ctx.script, on=ctx.phases, path=p, group=rest[0])
            for p in rest[1:]]


def _install_words(args: list[str]) -> list[str]:
    """install's arguments with clustered short options apart, as install reads them:
    `-dm755` is `-d -m 755`, `-oDebian-exim` is `-o Debian-exim` (until `--`)."""
    out: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            return out + args[index:]
        if not arg.startswith("-") or arg.startswith("--") or len(arg) < 3:
            out.append(arg)
            continue
        for position, letter in enumerate(arg[1:], 1):
            if letter in "ogm":
                out += [f"-{letter}", arg[position + 1:]] if position + 1 < len(arg) \
                    else [f"-{letter}"]
                break
            out.append(f"-{letter}")
    return out


def _h_install(argv: list[str], ctx: Ctx) -> list[Action]:
    """`install -d [-o OWNER] [-g GROUP] [-m MODE] DIR...`: directories (installing
    files is not modelled)."""
    opts, rest = parse_options(_install_words(argv[1:]),
                               {"-o", "-g", "-m", "--owner", "--group", "--mode"})
    if "-d" not in opts and "--directory" not in opts:
        return _install_empty(opts, rest, ctx)
    unknown = [o for o in opts if o not in ("-d", "--directory", "-o", "-g", "-m", "--owner",
                                            "--group", "--mode")]
    if unknown or not rest:
        raise ValueError(f"install -d with {unknown[0] if unknown else 'no directory'}")
    owner = opts.get("-o", opts.get("--owner", ""))
    group = opts.get("-g", opts.get("--group", ""))
    mode = opts.get("-m", opts.get("--mode", "0755"))
    return [MakeDir(script=ctx.script, on=ctx.phases, path=p, owner=owner, group=group,
                    mode=mode) for p in rest]


RANDOM_UUID = "/proc/sys/kernel/random/uuid"  # (a new UUID at each read)


def _install_empty(opts: dict[str, str], rest: list[str], ctx: Ctx) -> list[Action]:
    """`install [-m MODE] [-o OWNER] [-g GROUP] /dev/null FILE` where the walk knows FILE
    is missing: an empty file created (install would replace an existing one)."""
    unknown = [o for o in opts if o not in ("-o", "-g", "-m", "--owner", "--group",
                                            "--mode")]
    if not unknown and len(rest) == 2 and rest[0] == RANDOM_UUID and not (
            opts.get("-o", opts.get("--owner")) or opts.get("-g", opts.get("--group"))):
        # a new random secret (varnish's): where nothing is, as the test around it says
        if not ctx.missing(rest[1]):
            raise Unmodelled(f"a secret written over {rest[1]}, which may exist (only one "
                             "made where a test found it missing is modelled)",
                             Idiom("install over a file that may exist"))
        return [RandomSecret(**{"Script": ctx.script, "On": ctx.phases, "Path": rest[1],
                                "Mode": opts.get("-m", opts.get("--mode", "0755"))})]
    if unknown or len(rest) != 2 or rest[0] != "/dev/null":
        raise ValueError("install of files (only install -d and install /dev/null FILE "
                         "are modelled)")
    if not ctx.missing(rest[1]):
        raise Unmodelled(f"install over {rest[1]}, which may exist (only an empty file "
                         "made where a test found it missing is modelled)",
                         Idiom("install over a file that may exist"))
    return [CreateFile(script=ctx.script, on=ctx.phases, path=rest[1],
                       mode=opts.get("-m", opts.get("--mode", "0755")),
                       owner=opts.get("-o", opts.get("--owner", "")),
                       group=opts.get("-g", opts.get("--group", "")))]


def _owner_group(spec: str) -> tuple[str, str]:
    """chown's OWNER[:GROUP] (the legacy OWNER.GROUP only when there is no ':')."""
    separator = ":" if ":" in spec else "." if "." in spec else ""
    if not separator:
        return spec, ""
    owner, _, group = spec.partition(separator)
    if not group and owner:
        raise ValueError(f"chown {spec!r} (the owner's login group) is not modelled")
    if not owner and not group:
        raise ValueError(f"chown {spec!r} changes nothing")
    return owner, group


def _h_chmod(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    if len(rest) < 2 or opts:
        raise ValueError("chmod with options")
    return [SetOwner(script=ctx.script, on=ctx.phases, path=p, mode=rest[0])
            for p in rest[1:]]


def _h_ln(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], set())
    flags = "".join(k.lstrip("-") for k in opts)
    if "s" not in flags or len(rest) != 2:
        raise ValueError("ln other than ln -s TARGET LINK")
    return [Symlink(script=ctx.script, on=ctx.phases, target=rest[0], path=rest[1])]


_GLOB = re.compile(r"[*?\[]")
# touch's options that only choose which times change (-a, -m), or that make it create
# nothing (-c/--no-create; -h, which implies -c)
_TOUCH_FLAGS = frozenset("amch")


def _h_touch(argv: list[str], ctx: Ctx) -> list[Action]:
    """touch PATH...: create-file of each path (an empty file, when nothing is there).

    On a path that exists, touch only sets its access and modification times to now.
    In a package install that is not an observable effect worth keeping: nothing
    compares a file's times with the install's, and dpkg itself gives the files it
    unpacks the times of the archive. So the action leaves an existing path as it is.
    Only literal absolute paths are modelled; options that set other times (-d, -r,
    -t, --date, --reference, --time) or any other option are refused.
    """
    opts, rest = parse_options(argv[1:], set())
    flags = ""
    for option in opts:
        if option == "--no-create":
            flags += "c"
        elif option != "--" and not (option.startswith("-") and not option.startswith("--")
                                     and set(option[1:]) <= _TOUCH_FLAGS):
            raise ValueError(f"touch option {option} is not modelled")
        else:
            flags += option.lstrip("-")
    if not rest:
        raise ValueError("touch without a path")
    for path in rest:
        if not path.startswith("/"):
            raise ValueError(f"touch of a relative path {path!r}")
        if _GLOB.search(path):
            raise ValueError(f"touch of a pattern {path!r}")
    if "c" in flags or "h" in flags:
        return []  # creates nothing: only times would change
    return [CreateFile(script=ctx.script, on=ctx.phases, path=p) for p in rest]


def _h_ucf(argv: list[str], ctx: Ctx) -> list[Action]:
    opts, rest = parse_options(argv[1:], {"--debconf-ok", "--src-dir", "--sum-file"})
    if "--purge" in opts or "-p" in opts:
        return []
    if len(rest) != 2:
        raise ValueError("ucf other than ucf SOURCE DEST")
    return [InstallConfig(script=ctx.script, on=ctx.phases, source=rest[0], path=rest[1])]


def _h_cp(argv: list[str], ctx: Ctx) -> list[Action]:
    """`cp [-p|-a] SOURCE DEST` where the walk knows DEST is missing (`if [ ! -f DEST ]`,
    `[ -e DEST ] || cp ...`): a default file installed if missing. A cp that may
    overwrite is not modelled."""
    opts, rest = parse_options(argv[1:], set())
    # (-Z: the SELinux context of the destination, which images do not label)
    unknown = [o for o in opts if o not in ("-p", "-a", "--preserve", "--", "-f", "-Z",
                                            "-pZ")]
    if unknown:
        raise Unmodelled(f"cp option {unknown[0]} is not modelled",
                         Idiom("unknown form of", "cp"))
    if len(rest) != 2 or not all(p.startswith("/") for p in rest):
        raise Unmodelled("cp other than cp SOURCE DEST (absolute paths)",
                         Idiom("unknown form of", "cp"))
    source, dest = rest
    if ctx.missing(dest):
        return [InstallConfig(script=ctx.script, on=ctx.phases, source=source, path=dest)]
    if source in ctx.guard_paths:  # `[ -e F ] && cp -f F F.0`: only where F exists
        return [CopyPath(script=ctx.script, on=ctx.phases, source=source, path=dest,
                         preserve=any(o in opts for o in ("-p", "-a", "--preserve", "-pZ")))]
    raise Unmodelled(f"cp to {dest}, which may exist, of {source}, which no test around it "
                     "found present (a copy to a missing file, or of a file a test found "
                     "present, is modelled)", Idiom("cp over a file that may exist"))


def _h_mv(argv: list[str], ctx: Ctx) -> list[Action]:
    """`mv [-f] SOURCE DEST` behind a test of SOURCE (`[ -e F ] && mv F F.disabled`):
    move-path, which moves only what exists. A mv no test guards is not modelled (where
    SOURCE is missing it fails, and the script with it)."""
    opts, rest = parse_options(argv[1:], set())
    unknown = [o for o in opts if o not in ("-f", "--force", "--")]
    if unknown or len(rest) != 2 or not all(p.startswith("/") for p in rest):
        raise Unmodelled("mv other than mv [-f] SOURCE DEST (absolute paths)",
                         Idiom("unknown form of", "mv"))
    source, dest = rest
    if source not in ctx.guard_paths:
        raise Unmodelled(f"mv of {source}, which no test around it found present",
                         Idiom("mv of a path no test found present"))
    return [MovePath(script=ctx.script, on=ctx.phases, source=source, path=dest)]


# find's tests the remove-found action has, and the field each fills
_FIND_TESTS = {"-maxdepth": "max_depth", "-type": "type", "-name": "name_pattern",
               "-lname": "link_pattern"}


def find_removal(argv: list[str], ctx: Ctx, *, deleting: bool = False) -> RemoveFound:
    """`find DIR TESTS... -delete` (or, `deleting`, the find of `find ... | xargs rm -f`,
    `-exec rm -f {} ;`): the remove-found action; ValueError for anything else."""
    if len(argv) < 3 or not argv[1].startswith("/"):
        raise ValueError("find of something other than one absolute directory")
    fields: dict[str, str | bool] = {}
    words = argv[2:]
    index = 0
    while index < len(words):
        word = words[index]
        if word in _FIND_TESTS and index + 1 < len(words):
            fields[_FIND_TESTS[word]] = words[index + 1]
            index += 2
            continue
        if word == "-empty":
            fields["empty"] = True
        elif word == "-delete" and not deleting and index == len(words) - 1:
            deleting = True
        elif word in ("-print0", "-print") and deleting and index == len(words) - 1:
            pass
        elif word == "-exec" and words[index + 1:index + 2] in (["rm"], ["/bin/rm"]) and \
                words[-2:] in (["{}", ";"], ["{}", "+"]) and \
                all(w in ("-f", "--") for w in words[index + 2:-2]):
            deleting = True
            index = len(words)
            continue
        else:
            raise ValueError(f"find with {word} (only -maxdepth, -type, -name, -lname, "
                             "-empty and -delete are modelled)")
        index += 1
    if not deleting:
        raise ValueError("find that does not delete what it finds")
    return RemoveFound(script=ctx.script, on=ctx.phases, path=argv[1], **fields)


def _h_find(argv: list[str], ctx: Ctx) -> list[Action]:
    return [find_removal(argv, ctx)]


HANDLERS: dict[str, Handler] = {
    "mkdir": _h_mkdir, "rm": _h_rm, "rmdir": _h_rmdir,
    "chown": _h_chown, "chmod": _h_chmod,
    "ln": _h_ln, "touch": _h_touch, "ucf": _h_ucf, "cp": _h_cp,
    "chgrp": _h_chgrp, "install": _h_install, "mv": _h_mv, "find": _h_find,
}
