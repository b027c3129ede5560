"""Benchmark: hello built from source in each sandbox, side by side.

  root      the worker is root: the base chroot made by `mmdebstrap --mode=root`, the
            build in namespaces root creates (worker/build/sandbox.py)
  unshare   no root: a user the bench creates (useradd gives it subordinate ids),
            `mmdebstrap --mode=unshare`, every step in a user namespace of those ids
            (worker/build/userns.py); run through tests/fixtures/build_as_user.py, which
            drops to that user before building

Each: the base chroot made from the host's mirror (cold: a new cache directory), then
hello's build (fetch of its source not timed). Needs root (to create the user) and the
host's mirror. The user is removed, /etc/subuid and /etc/subgid restored, at the end.

    python bench/bench_build_backends.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from archive.settings import UpstreamSettings  # noqa: E402
from archive.upstream.mirror import host_codename, resolve_entries  # noqa: E402
from tests.fixtures.builder_user import builder_user, fetched_source  # noqa: E402
from worker.build.chroot import BuildEnv, build_source, ensure_base  # noqa: E402

RUNNER = REPO / "tests" / "fixtures" / "build_as_user.py"


def main() -> None:
    if os.geteuid() != 0:
        raise SystemExit("run as root: the bench creates the user of the unshare build")
    codename = host_codename()
    entry = next((e for e in resolve_entries(UpstreamSettings()) if e.suite == codename), None)
    if entry is None:
        raise SystemExit(f"no APT source of the host for {codename}")
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    keyring = entry.signed_by.keyrings[0] if entry.signed_by.keyrings else None
    with builder_user() as (name, home):
        dsc, version = fetched_source("hello", home / "src", home / "fetch")
        subprocess.run(["chown", "-R", f"{name}:{name}", str(home / "src")], check=True)

        env = BuildEnv(codename=entry.suite, arch=arch, mirror=entry.uri,
                       keyring=Path(keyring) if keyring else None)
        start = time.monotonic()
        base = ensure_base(env, home / "root-work" / "chroots", log=lambda _: None)
        root_base = time.monotonic() - start
        result = build_source(dsc, env, base, home / "root-work" / "build",
                              home / "root-work" / "out", log=lambda _: None)
        rows = [("root", root_base, result.seconds, len(result.debs))]

        spec = home / "spec.json"
        spec.write_text(json.dumps({"dsc": str(dsc), "work": str(home / "work"),
                                    "codename": entry.suite, "arch": arch,
                                    "mirror": entry.uri,
                                    "keyring": str(keyring) if keyring else None}))
        done = subprocess.run([sys.executable, str(RUNNER), name, str(spec)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the build without root failed: {done.stderr[-2000:]}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((f"{report['backend']} (uid {report['uid']})", report["base_seconds"],
                     report["build_seconds"], len(report["debs"])))
    print(f"hello {version} from source, {entry.suite}/{arch}, base chroots cold")
    print(f"{'sandbox':24} {'base s':>8} {'build s':>8} {'debs':>5}")
    for label, base_s, build_s, debs in rows:
        print(f"{label:24} {base_s:8.1f} {build_s:8.1f} {debs:5d}")
    print(f"unshare / root: base {rows[1][1] / rows[0][1]:.2f}, build "
          f"{rows[1][2] / rows[0][2]:.2f}")


if __name__ == "__main__":
    main()
