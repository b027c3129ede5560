"""A publish's caches: a map written whole now and then, and a journal of additions."""

from __future__ import annotations

import json
from pathlib import Path

from archive.publish.journal import JournalMap


def strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def test_additions_are_appended_and_folded(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    first = JournalMap(path, "f1", strings)
    for index in range(300):
        first.put(f"k{index}", [str(index)])
    first.save()
    assert path.exists() and not first.journal.exists()  # the first save writes it whole
    second = JournalMap(path, "f1", strings)
    second.put("new", ["n"])
    second.save()
    assert first.journal.read_text().count("\n") == 1  # one line for one addition
    assert json.loads(path.read_text())["entries"].get("new") is None
    third = JournalMap(path, "f1", strings)
    assert third.get("new") == ["n"] and third.get("k7") == ["7"]
    third.keep_only({"new", "k1"})
    third.save()  # entries dropped: written whole, journal folded in
    assert not third.journal.exists()
    assert JournalMap(path, "f1", strings).entries == {"new": ["n"], "k1": ["1"]}


def test_bad_lines_another_form_and_bad_values_are_not_read(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    cache = JournalMap(path, "f1", strings)
    cache.put("a", ["1"])
    cache.save()
    with open(cache.journal, "a") as journal:
        journal.write('["b", ["2"]]\n{not json\n["c", 3]\n["d", ["4"]')  # last one cut short
    loaded = JournalMap(path, "f1", strings)
    assert {key for key in ("a", "b", "c", "d") if loaded.get(key) is not None} == {"a", "b"}
    assert loaded.get("b") == ["2"] and loaded.get("c") is None  # a value of another shape
    assert JournalMap(path, "f2", strings).entries == {}  # another form: nothing
    path.write_text("[]")
    assert JournalMap(path, "f1", strings).entries == {}


def test_a_long_journal_is_folded_into_the_map(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    cache = JournalMap(path, "f1", strings)
    cache.put("seed", ["0"])
    cache.save()
    for index in range(100):
        again = JournalMap(path, "f1", strings)
        again.put(f"k{index}", [str(index)])
        again.save()
    lines = again.journal.read_text().count("\n") if again.journal.exists() else 0
    assert lines * 4 <= max(len(again.entries), 256) + 4
    assert len(JournalMap(path, "f1", strings).entries) == 101
