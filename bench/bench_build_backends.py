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
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from archive.settings import UpstreamSettings  # noqa: E402
from archive.upstream.mirror import host_codename, resolve_entries  # noqa: E402
from worker.build.chroot import BuildEnv, build_source, ensure_base  # noqa: E402
from worker.build.userns import SUBGID, SUBUID  # noqa: E402

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
    saved = {path: path.read_bytes() if path.exists() else None for path in (SUBUID, SUBGID)}
    name = f"ue{uuid.uuid4().hex[:8]}"
    home = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    home.chmod(0o755)
    subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell",
                    "/usr/sbin/nologin", name], check=True, capture_output=True)
    try:
        shutil.chown(home, name, name)
        fetched = json.loads(subprocess.run(
            [sys.executable, "-m", "unessential.cli", "-q", "fetch", "hello", "--dest",
             str(home / "src"), "--json"], cwd=REPO, check=True, capture_output=True, text=True,
            env=dict(os.environ, UNESSENTIAL_DATA_DIR=str(home / "fetch"))).stdout)
        subprocess.run(["chown", "-R", f"{name}:{name}", str(home / "src")], check=True)
        dsc = next(Path(f["path"]) for f in fetched[0]["files"] if f["path"].endswith(".dsc"))

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
    finally:
        subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
        for path, data in saved.items():
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
    print(f"hello {fetched[0]['version']} from source, {entry.suite}/{arch}, base chroots cold")
    print(f"{'sandbox':24} {'base s':>8} {'build s':>8} {'debs':>5}")
    for label, base_s, build_s, debs in rows:
        print(f"{label:24} {base_s:8.1f} {build_s:8.1f} {debs:5d}")
    print(f"unshare / root: base {rows[1][1] / rows[0][1]:.2f}, build "
          f"{rows[1][2] / rows[0][2]:.2f}")


if __name__ == "__main__":
    main()
