"""`unessential survey` against the Debian mirror named by the host's APT sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.network
CLI = [sys.executable, "-m", "unessential.cli"]
ROOT = Path(__file__).resolve().parent.parent


def test_survey_of_the_priority_classes(tmp_path: Path) -> None:
    """The base of the archive: sane totals, every script in one class, idioms sorted."""
    env = dict(os.environ, UNESSENTIAL_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([*CLI, "survey", "--priority", "required,important,standard",
                           "--json"], env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(done.stdout)
    t = data["totals"]
    print(json.dumps(t))  # the figures for the README (pytest -s)
    assert t["packages"] > 50 and t["scripts"] > 0 and t["with_scripts"] > 0
    assert t["translated"] + t["by_recipe"] + t["flagged"] == t["scripts"]
    # measured 2026-11-28: 172 of 181 by the engine (95.0%, issue 15's goal), 9 by a
    # recipe (locales' postinst by glibc's), none flagged: every script handled
    assert t["translated"] >= 172, t
    assert t["translated"] / t["scripts"] >= 0.95, t
    assert t["translated"] + t["by_recipe"] == t["scripts"], t
    assert t["flagged_lines"] >= t["flagged"]
    assert sum(g["count"] for g in data["idioms"]) == t["flagged_lines"] + t["errors"]
    counts = [g["count"] for g in data["idioms"]]
    assert counts == sorted(counts, reverse=True)
    assert all(g["idiom"] and g["examples"] for g in data["idioms"])
    priorities = {p["package"] for p in data["packages"]}
    assert {"dpkg", "base-files", "apt"} <= priorities
    status = {(p["package"], s["script"]): s["status"] for p in data["packages"]
              for s in p["scripts"]}
    for script in (("systemd", "postinst"), ("iputils-ping", "postinst"),  # by the engine
                   ("iproute2", "postinst"), ("passwd", "postinst"),
                   ("base-passwd", "postinst"), ("xz-utils", "postinst"),
                   ("procps", "postrm"), ("readline-common", "postinst"),
                   ("ucf", "preinst"), ("ucf", "postinst"), ("ucf", "postrm"),
                   ("dash", "prerm"), ("ifupdown", "preinst"), ("tasksel-data", "postinst"),
                   ("wamerican", "config"), ("wamerican", "postinst"),
                   ("ca-certificates", "postrm"), ("ca-certificates", "config"),
                   ("tzdata", "config"), ("locales", "config")):
        assert status.get(script, "translated") == "translated", script
    for script in (("dash", "postinst"), ("tzdata", "postinst"),  # by a recipe
                   ("cron-daemon-common", "postinst"), ("apt-listchanges", "postinst"),
                   ("ca-certificates", "postinst"), ("locales", "postinst")):
        assert status.get(script, "recipe") == "recipe", script
    assert "recorded as survey 1" in done.stderr
    table = subprocess.run([*CLI, "-q", "survey", "dpkg", "--no-record"], env=env,
                           capture_output=True, text=True, timeout=600, check=True).stdout
    assert table.startswith("packages dpkg (") and "scripts" in table


def test_survey_of_a_server_closure(tmp_path: Path) -> None:
    """The closure of five servers: what a maintainer selecting them gets translated."""
    env = dict(os.environ, UNESSENTIAL_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([*CLI, "survey", "--closure", "postfix", "haproxy", "bind9",
                           "memcached", "varnish", "--json", "--no-record"], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(done.stdout)
    t = data["totals"]
    print(json.dumps(t))
    # measured 2026-11-28: 73 of 81 (90.1%, issue 15's goal): the rest is postfix's
    # postinst and Perl config, usrmerge's postinst (its conversion), and recipes' (libc6
    # x3, libstdc++6, dpkg)
    assert t["translated"] >= 73, t
    assert t["translated"] / t["scripts"] >= 0.90, t
    status = {(p["package"], s["script"]): s["status"] for p in data["packages"]
              for s in p["scripts"]}
    for script in (("haproxy", "postinst"), ("memcached", "postinst"),
                   ("netbase", "postinst"), ("kmod", "postinst"), ("dbus", "postinst"),
                   ("passwd", "postinst"), ("iproute2", "postinst"),
                   ("postfix", "preinst"), ("ssl-cert", "postrm"), ("bind9", "postinst"),
                   ("usrmerge", "preinst"), ("varnish", "postinst")):
        assert status.get(script, "translated") == "translated", script


def test_bench_survey_runs(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_survey.py"),
                             "--packages", "3", "--data-dir", str(tmp_path / "data")],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert "s/package" in result.stdout
