"""Benchmark: the audit queries on PostgreSQL with ~20,000 relation changes.

Fills a throwaway PostgreSQL database (created on the local server's `test` database,
migrated with the catalog's own migrations, dropped at the end) with a synthetic
catalog of the size of a distribution-wide rebuild campaign:

  ~1,500 sources, each with a current done build, a fifth of them with an older done
  build too (superseded), and a failed attempt for some; ~2 binaries per build;
  --relations relation changes (default 20,000) spread over the binaries, with the
  reasons and names a real campaign has (perl-base, dpkg, libc-bin, debconf OR-groups,
  adduser, init-system-helpers, ..., and `perl-base-foo` decoys); ~1.5 maintainer
  scripts per binary (a tenth kept as is).

Then times each audit query in-process (`audit.queries`, a fresh session per run,
median and minimum of --repeat runs, rows included: Python post-processing counts),
and the command a user runs (`unessential audit ...` as a process: its wall time,
including Python start-up, which `unessential --version` shows alone). Each query's
SQL statements are captured and shown with `EXPLAIN (ANALYZE, BUFFERS)` to see which
indexes are used.

There is no other tool to compare with: the numbers are absolute, against the goal
"well under a second". Not timed: creating, migrating and filling the database.

    python bench/bench_audit.py [--relations 20000] [--repeat 21] [--no-explain]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert

from archive.catalog.db import make_engine, session_factory, upgrade
from archive.catalog.models import (
    BinaryPackage,
    Build,
    RelationChange,
    ScriptRewrite,
    SourcePackage,
)
from audit import queries

PG_SERVER = "postgresql+psycopg://root@127.0.0.1:5432"
SCRIPT = Path(sys.executable).parent / "unessential"
T0 = datetime(2026, 11, 1, tzinfo=UTC)

# (relation, reason, weight): the mix of a real campaign, roughly
RELATIONS: list[tuple[str, str, int]] = [
    ("perl-base (>= 5.{n})", "implicit-essential", 12),
    ("dpkg (>= 1.{n}.0)", "implicit-essential", 14),
    ("libc-bin (>= 2.{n})", "implicit-essential", 8),
    ("base-files (>= {n})", "implicit-essential", 3),
    ("coreutils (>= 8.{n})", "implicit-essential", 5),
    ("sed", "implicit-essential", 3),
    ("debconf (>= 0.5) | debconf-2.0", "script-only", 16),
    ("cdebconf | debconf (>= 1.{n})", "script-only", 2),
    ("adduser", "script-only", 8),
    ("adduser (>= 3.{n})", "script-only", 2),
    ("init-system-helpers (>= 1.{n}~)", "script-only", 10),
    ("lsb-base (>= 3.0-{n})", "script-only", 4),
    ("ucf", "script-only", 3),
    ("perl-base-foo (>= {n})", "recipe", 1),
    ("libfoo{n}-extra", "recipe", 1),
]


@contextmanager
def throwaway_database() -> Iterator[str]:
    admin = create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    name = f"unessential_bench_audit_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# -- filling --------------------------------------------------------------------------


def fill(engine: Engine, relations: int, rng: random.Random) -> dict[str, int]:
    """Insert the synthetic catalog with bulk INSERTs; return what was written."""
    sources_n = max(50, relations * 3 // 40)  # 1,500 for 20,000
    source_rows, build_rows, binary_rows = [], [], []
    build_id = binary_id = 0
    current_binaries: list[int] = []
    all_binaries: list[tuple[int, str]] = []
    for s in range(1, sources_n + 1):
        name = f"src{s:05d}"
        attempts = (["done"] if rng.random() > 0.2 else ["done", "done"])
        if rng.random() < 0.07:
            attempts.append("failed")
        for version_no, status in enumerate(attempts, 1):
            source_rows.append({"id": len(source_rows) + 1, "name": name,
                                "version": f"1.{version_no}-1", "suite": "bookworm",
                                "dsc_sha256": f"{len(source_rows):064x}"})
            build_id += 1
            started = T0 + timedelta(minutes=build_id)
            build_rows.append({"id": build_id, "source_package_id": len(source_rows),
                               "recipe_digest": "sha256:" + "7" * 64, "env_digest": "e",
                               "origin": "repack", "status": status, "started_at": started,
                               "finished_at": started, "created_at": started})
            if status != "done":
                continue
            newest_done = version_no == max(i for i, st in enumerate(attempts, 1)
                                            if st == "done")
            for b in range(rng.choice((1, 2, 2, 3))):
                binary_id += 1
                bname = name if b == 0 else f"lib{name}-{b}"
                size = rng.randint(20, 20000)
                binary_rows.append({
                    "id": binary_id, "build_id": build_id, "name": bname,
                    "version": f"1.{version_no}-1", "architecture": "amd64",
                    "sha256": f"{binary_id:064x}", "size": size * 300,
                    "filename": f"pool/main/s/{name}/{bname}_1.{version_no}-1_amd64.deb",
                    "original_sha256": f"{binary_id + 10**9:064x}",
                    "original_control": f"Package: {bname}\nVersion: 1.{version_no}-1\n"
                                        f"Installed-Size: {size}\n",
                    "control": f"Package: {bname}\nVersion: 1.{version_no}-1\n"
                               f"Installed-Size: {size}\n",
                    "installed_size": size, "original_installed_size": size})
                all_binaries.append((binary_id, bname))
                if newest_done:
                    current_binaries.append(binary_id)
    change_rows = _relation_changes(all_binaries, relations, rng)
    script_rows = _scripts(all_binaries, rng)
    with engine.begin() as connection:
        for model, rows in ((SourcePackage, source_rows), (Build, build_rows),
                            (BinaryPackage, binary_rows), (RelationChange, change_rows),
                            (ScriptRewrite, script_rows)):
            for start in range(0, len(rows), 5000):
                connection.execute(insert(model), rows[start:start + 5000])
        for table in ("source_package", "build", "binary_package", "relation_change",
                      "script_rewrite"):
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    return {"sources": sources_n, "builds": len(build_rows), "binaries": len(binary_rows),
            "current binaries": len(current_binaries), "relation changes": len(change_rows),
            "script rewrites": len(script_rows)}


def _relation_changes(binaries: list[tuple[int, str]], total: int,
                      rng: random.Random) -> list[dict[str, Any]]:
    weights = [w for _, _, w in RELATIONS]
    rows = []
    for number in range(total):
        binary_id = binaries[number % len(binaries)][0] if number < len(binaries) \
            else rng.choice(binaries)[0]
        template, reason, _ = rng.choices(RELATIONS, weights)[0]
        relation = template.format(n=rng.randint(1, 40))
        rows.append({"binary_id": binary_id,
                     "field": rng.choice(("Depends", "Depends", "Pre-Depends", "Recommends")),
                     "relation": relation, "action": "dropped", "reason": reason,
                     "detail": f"{relation.split()[0]}: {reason}",
                     "relation_name": queries.alternatives(relation)[0]})
    return rows


def _scripts(binaries: list[tuple[int, str]], rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for binary_id, name in binaries:
        for script in rng.sample(("preinst", "postinst", "prerm", "postrm"), rng.randint(0, 3)):
            original = f"#!/bin/sh\nset -e\n# {name} {script}\nexit 0\n"
            kept = rng.random() < 0.1
            rows.append({"binary_id": binary_id, "script": script,
                         "original_sha256": f"{binary_id:060x}{len(rows) % 9999:04d}",
                         "original": original,
                         "actions": "" if kept else f"Action: ldconfig\nScript: {script}\n",
                         "rendered": original if kept else "#!/bin/sh\nset -e\nexit 0\n"})
    return rows


# -- timing ---------------------------------------------------------------------------


def timed(engine: Engine, call: Callable[[Any], Any], repeat: int) -> tuple[float, float, int]:
    """Median and minimum seconds of `call(session)` (fresh session each), and its rows."""
    sessions = session_factory(engine)
    times = []
    rows = 0
    for _ in range(repeat):
        start = time.perf_counter()
        with sessions() as session:
            result = call(session)
        times.append(time.perf_counter() - start)
        rows = len(result) if isinstance(result, list) else 1
    return statistics.median(times), min(times), rows


def statements(engine: Engine, call: Callable[[Any], Any]) -> list[tuple[str, Any]]:
    """The SQL statements (with parameters) `call(session)` runs."""
    seen: list[tuple[str, Any]] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any,
                 context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        with session_factory(engine)() as session:
            call(session)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


def explain(engine: Engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
        return [row[0] for row in cursor.fetchall()]


def cli_wall(url: str, args: list[str], repeat: int) -> float:
    env = dict(os.environ, UNESSENTIAL_DATABASE_URL=url)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([str(SCRIPT), "-q", *args], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--relations", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--no-explain", action="store_true")
    args = parser.parse_args()
    rng = random.Random(20261124)
    overall = time.perf_counter()
    with throwaway_database() as url:
        upgrade(url)
        engine = make_engine(url)
        start = time.perf_counter()
        counts = fill(engine, args.relations, rng)
        fill_seconds = time.perf_counter() - start
        print("catalog: PostgreSQL 127.0.0.1 (fresh database, ANALYZEd), "
              + ", ".join(f"{n} {what}" for what, n in counts.items()))
        print(f"setup, not timed: fill {fill_seconds:.1f} s")
        cases: list[tuple[str, Callable[[Any], Any]]] = [
            ("dropped perl-base", lambda s: queries.dropped(s, "perl-base")),
            ("dropped perl-base --all-builds",
             lambda s: queries.dropped(s, "perl-base", all_builds=True)),
            ("dropped debconf-2.0 (2nd alternative)",
             lambda s: queries.dropped(s, "debconf-2.0")),
            ("by_reason script-only", lambda s: queries.by_reason(s, "script-only")),
            ("by_reason recipe", lambda s: queries.by_reason(s, "recipe")),
            ("package src00042", lambda s: queries.package(s, "src00042")),
            ("binaries_of src00042 (diff)", lambda s: queries.binaries_of(s, "src00042")),
            ("summary", lambda s: queries.summary(s)),
            ("top_dropped", lambda s: queries.top_dropped(s)),
        ]
        print(f"in-process, median (min) of {args.repeat} runs, fresh session each:")
        print(f"  {'query':40} {'rows':>6} {'median ms':>10} {'min ms':>8} {'SELECTs':>8}")
        for name, call in cases:
            median, fastest, rows = timed(engine, call, args.repeat)
            count = len(statements(engine, call))
            print(f"  {name:40} {rows:>6} {median * 1000:>10.1f} {fastest * 1000:>8.1f} "
                  f"{count:>8}")
        cli_repeat = max(3, args.repeat // 4)
        print(f"command, wall time of the process, median of {cli_repeat}:")
        for label, cli_args in (("unessential --version (start-up only)", ["--version"]),
                                ("unessential audit --dropped perl-base",
                                 ["audit", "--dropped", "perl-base"]),
                                ("unessential audit --reason script-only --json",
                                 ["audit", "--reason", "script-only", "--json"]),
                                ("unessential audit (summary)", ["audit"])):
            print(f"  {label:48} {cli_wall(url, cli_args, cli_repeat):6.2f} s")
        if not args.no_explain:
            for name, call in cases[:1] + cases[2:4] + cases[5:6]:
                print(f"EXPLAIN ANALYZE: {name}")
                for statement, parameters in statements(engine, call)[:1]:
                    for line in explain(engine, statement, parameters):
                        print(f"    {line}")
        engine.dispose()
    print(f"whole run: {time.perf_counter() - overall:.0f} s")


if __name__ == "__main__":
    main()
