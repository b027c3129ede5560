"""`unessential report`: the static HTML site, its figures, and a look at it in Chromium.

The catalog is the audit world of `tests/fixtures/audit_seed.py`; the exact figures
below are the totals its docstring states. The Chromium tests render the pages
headless (Debian's chromium, skipped only when it is not installed), take a
screenshot, and read the browser's console log from stderr: with
`--enable-logging=stderr --v=0`, Chromium prints every console message of a page,
whatever its level, as `...:INFO:CONSOLE:<line>] "<message>", source: <url> (<line>)`
(uncaught exceptions and Content-Security-Policy violations included). The report's
pages run no script at all, so any such line about them is a failure;
`test_console_detector_sees_errors` proves the detector on a page that does err.
"""

from __future__ import annotations

import html
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event

from archive.catalog.db import make_engine, session_factory
from audit.report.data import load_report
from audit.report.graph import edges_of, layout
from audit.report.output import MARKER
from audit.report.render import write_report
from base.errors import ConfigError
from tests.fixtures.audit_seed import AuditSeed, seed_audit
from tests.fixtures.postgres import PG_SERVER, throwaway_database
from unessential.cli import cli

PACKAGES = ("ca-certificates", "cron", "foo-data", "foo-tools", "libssl3", "openssl", "sed",
            "tzdata")


@dataclass(frozen=True)
class Rendered:
    seed: AuditSeed
    out: Path

    def page(self, relative: str) -> str:
        return (self.out / relative).read_text(encoding="utf-8")

    def image_page(self, name: str) -> str:
        return self.page(f"images/{self.seed.images[name]}.html")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    root = tmp_path_factory.mktemp("report")
    seed = seed_audit(f"sqlite:///{root / 'catalog.sqlite'}")
    write_report(seed.url, root / "site", title="Example <Distro> & co")
    return Rendered(seed, root / "site")


def figures(page: str) -> dict[str, str]:
    return {key: html.unescape(value) for key, value in
            re.findall(r'data-figure="([^"]+)">([^<]*)<', page)}


def pre_blocks(page: str) -> list[str]:
    return [html.unescape(block) for block in re.findall(r"<pre>(.*?)</pre>", page, re.S)]


# -- files and figures ----------------------------------------------------------------


def test_files_of_the_site(rendered: Rendered) -> None:
    files = sorted(str(p.relative_to(rendered.out)) for p in rendered.out.rglob("*")
                   if p.is_file())
    images = sorted(f"images/{i}.html" for i in rendered.seed.images.values())
    assert files == sorted([MARKER, "index.html", "style.css", *images,
                            *(f"packages/{name}.html" for name in PACKAGES)])
    leftovers = [p.name for p in rendered.out.parent.iterdir() if p.name.startswith(".site")]
    assert leftovers == []


def test_summary_figures(rendered: Rendered) -> None:
    page = rendered.page("index.html")
    assert figures(page) == {
        "sources-rebuilt": "6",
        "binaries": "8",
        "relations-dropped": "9",
        "relations-added": "1",
        "scripts-translated": "10",
        "scripts-kept": "1",
        "installed-before": "13,166 KiB (12.9 MiB)",
        "installed-after": "13,161 KiB (12.9 MiB)",
        "images": "2",
        "builds-failed": "1",
    }
    assert dict(re.findall(r'data-reason="([^"]+)">(\d+)<', page)) == {
        "implicit-essential": "4", "script-only": "4", "recipe": "1"}
    assert dict(re.findall(r'data-builds="([^"]+)">(\d+)<', page)) == {"done": "7", "failed": "1"}
    # the bar charts are inline SVG, one bar per reason (and the added relations)
    assert page.count('<svg class="bars"') == 3
    assert re.findall(r'class="bar (reason-[a-z-]+)"', page) == [
        "reason-implicit-essential", "reason-script-only", "reason-recipe"]
    # the title is escaped, never markup
    assert "Example &lt;Distro&gt; &amp; co" in page and "<Distro>" not in page


def test_index_lists_current_binaries_images_and_failures(rendered: Rendered) -> None:
    page = rendered.page("index.html")
    links = re.findall(r'<a href="packages/([^"]+)\.html">', page)
    assert links == list(PACKAGES)
    assert "3.0.13-1" in page and "3.0.11-1" not in page  # the superseded build is not shown
    failed = page[page.index('id="failed"'):page.index('id="binaries"')]
    assert "openssl" in failed and "3.0.14-1" in failed and "exit status 2" in failed
    images = page[page.index('id="images"'):page.index('id="failed"')]
    openssl_row = images[images.index(f'images/{rendered.seed.images["openssl"]}.html'):]
    openssl_row = openssl_row[:openssl_row.index("</tr>")]
    assert re.findall(r'<td class="n">([^<]+)</td>', openssl_row) == [
        "4", "9", "21,827 KiB (21.3 MiB)", "31,420 KiB (30.7 MiB)", "0.69"]


def test_package_page_relations_scripts_and_sizes(rendered: Rendered) -> None:
    cron = rendered.page("packages/cron.html")
    rows = re.findall(r'<tr class="(dropped|added)">\s*<td>\w+</td>\s*<td>([^<]+)</td>\s*'
                      r'<td><code>([^<]+)</code></td>\s*<td><span class="reason [^"]+">'
                      r'([^<]+)</span>', cron)
    assert sorted(rows) == sorted([
        ("dropped", "Pre-Depends", "init-system-helpers (&gt;= 1.54~)", "script-only"),
        ("dropped", "Depends", "libpam-runtime", "implicit-essential"),
        ("dropped", "Depends", "sensible-utils", "implicit-essential"),
        ("dropped", "Depends", "adduser", "script-only"),
    ])
    assert re.findall(r'<span class="status (\w+)">', cron) == ["translated"] * 3
    blocks = pre_blocks(cron)
    from tests.fixtures.audit_seed import ORIGINAL_SCRIPTS, script_rewrite

    for script in ("postinst", "prerm", "postrm"):
        seeded = script_rewrite("cron", script)
        assert ORIGINAL_SCRIPTS[("cron", script)] in blocks  # escaped, and exactly back
        if seeded.rendered:
            assert seeded.rendered in blocks and seeded.actions in blocks
    assert "removed: nothing is left to run" in cron  # prerm renders to nothing
    assert '&#34;$1&#34; = configure' in cron  # quotes of the shipped script escaped

    foo = rendered.page("packages/foo-tools.html")
    assert re.findall(r'<span class="status (\w+)">', foo) == ["kept", "translated"]
    assert '<tr class="added">' in foo and "kept as shipped by the recipe" in foo

    openssl = rendered.page("packages/openssl.html")
    assert figures(openssl) == {"installed-before": "2,303 KiB (2.2 MiB)",
                                "installed-after": "2,298 KiB (2.2 MiB)"}
    diff = html.unescape(re.search(r'<pre class="diff">(.*?)</pre>', openssl, re.S)[1])
    assert "-Depends: libc6 (>= 2.34), libssl3 (>= 3.0.9), perl-base (>= 5.32)" in diff
    assert "+Depends: libc6 (>= 2.34), libssl3 (>= 3.0.9)" in diff
    assert "+Unessential-Recipe: sha256:" in diff


def test_image_page_sizes_graph_and_packages(rendered: Rendered) -> None:
    page = rendered.image_page("openssl")
    assert figures(page) == {
        "packages": "4", "upstream-packages": "9",
        "installed-size": "21,827 KiB (21.3 MiB)",
        "upstream-installed-size": "31,420 KiB (30.7 MiB)",
        "count-ratio": "0.44", "size-ratio": "0.69"}
    svg = page[page.index('<svg class="graph"'):page.index("</svg>", page.index('class="graph"'))]
    assert sorted(re.findall(r'data-package="([^"]+)"', svg)) == [
        "ca-certificates", "libc6", "libssl3", "openssl"]
    assert sorted(re.findall(r"<title>([^<]+) → ([^<]+)</title>", svg)) == [
        ("ca-certificates", "openssl"), ("libssl3", "libc6"), ("openssl", "libc6"),
        ("openssl", "libssl3")]
    assert re.findall(r'class="node root" data-package="([^"]+)"', svg) == [
        "ca-certificates", "openssl"]
    # rebuilt packages link to their page; libc6 was not rebuilt
    assert '<a href="../packages/libssl3.html">' in svg
    assert '<a href="../packages/libc6.html">' not in page
    assert "openssl → libssl3" in page  # the why-chain
    assert re.search(r"<tfoot>.*21,827 KiB", page, re.S)

    dpkg = rendered.image_page("dpkg-tools")
    assert figures(dpkg)["upstream-packages"] == "n/a"
    assert figures(dpkg)["size-ratio"] == "n/a"
    assert "bootstrap --compare-upstream" in dpkg
    # dpkg → tar, libc6, zlib1g; tar → libc6; zlib1g → libc6
    assert len(re.findall(r'<path class="edge', dpkg)) == 5


class _Checker(HTMLParser):
    VOID = {"meta", "link", "br", "img", "hr", "input", "wbr", "col", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [value or "" for name, value in attrs if name in ("href", "src")]
        if tag == "script":
            self.errors.append("a <script> element")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [value or "" for name, value in attrs if name in ("href", "src")]

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def test_pages_are_well_formed_and_self_contained(rendered: Rendered) -> None:
    pages = sorted(rendered.out.rglob("*.html"))
    assert len(pages) == 1 + len(PACKAGES) + 2
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>\n"), page
        assert "default-src 'none'" in text  # the browser may load nothing but our files
        checker = _Checker()
        checker.feed(text)
        checker.close()
        assert checker.errors == [] and checker.stack == [], (page, checker.errors)
        for ref in checker.refs:
            assert not re.match(r"^([a-z][a-z0-9+.-]*:|//)", ref, re.I), (page, ref)
            target = ref.split("#")[0]
            if target:
                assert (page.parent / target).resolve().is_file(), (page, ref)
        assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text), page


def test_output_is_deterministic_and_replaced_whole(rendered: Rendered, tmp_path: Path) -> None:
    out = tmp_path / "again"
    write_report(rendered.seed.url, out, title="Example <Distro> & co")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert before == {p.relative_to(rendered.out): p.read_bytes()
                      for p in rendered.out.rglob("*") if p.is_file()}
    (out / "packages" / "stale.html").write_text("from an older report")
    write_report(rendered.seed.url, out, title="Example <Distro> & co")
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]  # nothing left beside it


def test_refuses_to_replace_a_directory_that_is_not_a_report(rendered: Rendered,
                                                            tmp_path: Path) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a report"):
        write_report(rendered.seed.url, precious)
    assert sorted(p.name for p in precious.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert write_report(rendered.seed.url, empty).index.is_file()


def test_queries_do_not_grow_with_the_catalog(rendered: Rendered) -> None:
    engine = make_engine(rendered.seed.url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: statements.append(statement))
    try:
        with session_factory(engine)() as session:
            data = load_report(session)
    finally:
        engine.dispose()
    assert len(data.binaries) == 8 and len(data.images) == 2
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 7, selects  # binaries(+2 selectin), images(+1), statuses, failed


def test_figures_agree_with_the_audit_summary(rendered: Rendered) -> None:
    """The report computes its totals from the rows it shows; `audit` with SQL: the same."""
    from audit.queries import summary

    engine = make_engine(rendered.seed.url)
    try:
        with session_factory(engine)() as session:
            ours, theirs = load_report(session).summary, summary(session)
    finally:
        engine.dispose()
    assert (ours.sources_rebuilt, ours.binaries, ours.builds_by_status.get("failed", 0)) == \
        (theirs.sources, theirs.binaries, theirs.failed_builds)
    assert ours.dropped_by_reason == theirs.dropped
    assert ours.added == sum(theirs.added.values())
    assert (ours.scripts_translated, ours.scripts_kept) == \
        (theirs.scripts_translated, theirs.scripts_kept)
    assert (ours.sized_binaries, ours.installed_before, ours.installed_after) == \
        (theirs.sized_binaries, theirs.installed_size_before, theirs.installed_size_after)


# -- the graph ----------------------------------------------------------------------


def test_graph_edges_alternatives_virtuals_and_cycles() -> None:
    depends = {
        "app": "libc6 (>= 2.34), mawk | gawk, awk-virtual",
        "mawk": "libc6",
        "libc6": "libgcc-s1",
        "libgcc-s1": "gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)",
        "gcc-12-base": "",
        "provider": "libc6:any",
    }
    why = {
        "app": ["app"],
        "mawk": ["app", "app Depends mawk | gawk"],
        "provider": ["app", "app Depends awk-virtual (provided by provider)"],
        "libc6": ["app", "app Depends libc6 (>= 2.34)"],
        "libgcc-s1": ["app", "app Depends libc6 (>= 2.34)", "libc6 Depends libgcc-s1"],
        "gcc-12-base": ["app", "app Depends libc6 (>= 2.34)", "libc6 Depends libgcc-s1",
                        "libgcc-s1 Depends gcc-12-base (= 12.2.0-14)"],
    }
    assert edges_of(depends, why) == {
        ("app", "libc6"), ("app", "mawk"), ("app", "provider"), ("mawk", "libc6"),
        ("libc6", "libgcc-s1"), ("libgcc-s1", "gcc-12-base"), ("libgcc-s1", "libc6"),
        ("provider", "libc6")}
    graph = layout(depends, why)
    layers = {node.name: node.layer for node in graph.nodes}
    assert layers == {"app": 0, "mawk": 1, "provider": 1, "libc6": 2, "libgcc-s1": 3,
                      "gcc-12-base": 4}
    assert [(e.source, e.target) for e in graph.edges if e.back] == [("libgcc-s1", "libc6")]
    assert [n.name for n in graph.nodes if n.root] == ["app"]
    assert all(n.x >= 0 and n.x + n.width <= graph.width for n in graph.nodes)
    assert layout(depends, why) == graph  # deterministic


# -- the command ------------------------------------------------------------------------


def test_report_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed_audit(f"sqlite:///{data / 'catalog.sqlite'}")
    out = tmp_path / "public" / "report"
    result = CliRunner(env={"UNESSENTIAL_DATA_DIR": str(data)}).invoke(
        cli, ["-q", "report", "--output", str(out), "--title", "Bookworm, rebuilt"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out / "index.html")
    assert "<h1>Bookworm, rebuilt</h1>" in (out / "index.html").read_text()
    (out / "index.html").unlink()
    (out / MARKER).unlink()  # no longer a report: refused, with the config exit code
    result = CliRunner(env={"UNESSENTIAL_DATA_DIR": str(data)}).invoke(
        cli, ["report", "--output", str(out)])
    assert result.exit_code == 3, result.output
    assert "not a report" in result.output


@pytest.fixture
def pg_url() -> Iterator[str]:
    with throwaway_database("unessential_r") as url:
        if url is None:
            pytest.skip(f"no PostgreSQL server at {PG_SERVER}")
        yield url


@pytest.mark.postgres
def test_same_report_from_postgresql(rendered: Rendered, pg_url: str, tmp_path: Path) -> None:
    seed = seed_audit(pg_url)
    assert seed.images == rendered.seed.images
    write_report(pg_url, tmp_path / "pg", title="Example <Distro> & co")
    assert {p.relative_to(tmp_path / "pg"): p.read_bytes() for p in (tmp_path / "pg").rglob("*")
            if p.is_file()} == {p.relative_to(rendered.out): p.read_bytes()
                                for p in rendered.out.rglob("*") if p.is_file()}


# -- in a browser -------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
CONSOLE = re.compile(r':CONSOLE(?::\d+)?\] "(?P<message>.*)", source: (?P<source>\S*) '
                     r"\((?P<line>\d+)\)\s*$")


@dataclass(frozen=True)
class Browsed:
    dom: str
    console: list[str]  # console messages about the page (every level)
    screenshot: Path


def console_messages(stderr: str, site: str) -> list[str]:
    """Console lines of Chromium's stderr log whose source is under `site` (or unknown).

    Chromium logs every console message (log, warn, error), uncaught exceptions and CSP
    violations alike as INFO:CONSOLE: the report runs no script, so all of them count.
    """
    found = []
    for line in stderr.splitlines():
        if ":CONSOLE" not in line:
            continue
        match = CONSOLE.search(line)
        if match is None or not match["source"] or match["source"].startswith(site):
            found.append(match["message"] if match else line)
    return found


def browse(page: Path, work: Path) -> Browsed:
    """Open `page` in headless Chromium: its DOM, console messages and a screenshot."""
    assert CHROMIUM is not None
    shot = work / f"{page.stem}.png"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--enable-logging=stderr", "--v=0", f"--user-data-dir={work / 'profile'}",
               "--window-size=1280,2000", f"--screenshot={shot}", "--dump-dom", page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                          timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return Browsed(done.stdout, console_messages(done.stderr, page.parent.as_uri()), shot)


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    channels: int
    rows: list[bytes]  # filtered scanlines, each with its filter byte

    def unfiltered(self, count: int) -> list[bytes]:
        """The first `count` rows as pixels (PNG filters undone)."""
        bpp, out, previous = self.channels, [], bytes(self.width * self.channels)
        for raw in self.rows[:count]:
            kind, line = raw[0], bytearray(raw[1:])
            for i in range(len(line)):
                left = line[i - bpp] if i >= bpp else 0
                up = previous[i]
                corner = previous[i - bpp] if i >= bpp else 0
                if kind == 1:
                    line[i] = (line[i] + left) & 0xFF
                elif kind == 2:
                    line[i] = (line[i] + up) & 0xFF
                elif kind == 3:
                    line[i] = (line[i] + (left + up) // 2) & 0xFF
                elif kind == 4:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                    line[i] = (line[i] + pred) & 0xFF
            out.append(bytes(line))
            previous = bytes(line)
        return out

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        row = self.unfiltered(y + 1)[y]
        return tuple(row[x * self.channels:(x + 1) * self.channels][:3])


def read_png(path: Path) -> Png:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = 1 + width * channels
    assert len(raw) == stride * height
    return Png(width, height, channels, [raw[i:i + stride] for i in range(0, len(raw), stride)])


def probe_page(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "probe.html"
    page.write_text("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                    "script-src 'unsafe-inline'; img-src 'self'\"><title>probe</title></head>"
                    f"<body><p>probe</p>{body}</body></html>\n")
    return page


@needs_chromium
def test_console_detector_sees_errors(tmp_path: Path) -> None:
    """The detector is only worth something if it fires: a page that errs three ways."""
    page = probe_page(tmp_path / "bad", (
        "<script>console.error('probe: console.error');</script>"
        "<script>notDefinedAnywhere();</script>"
        '<img src="https://example.invalid/x.png" alt="">'))
    messages = browse(page, tmp_path).console
    assert "probe: console.error" in messages
    assert any(m.startswith("Uncaught ReferenceError: notDefinedAnywhere") for m in messages)
    assert any("violates the following Content Security Policy" in m for m in messages)
    assert browse(probe_page(tmp_path / "good", "<p>fine</p>"), tmp_path).console == []


@needs_chromium
@pytest.mark.parametrize("which", ["index", "image"])
def test_report_in_chromium(rendered: Rendered, tmp_path: Path, which: str) -> None:
    page = rendered.out / ("index.html" if which == "index"
                           else f"images/{rendered.seed.images['openssl']}.html")
    browsed = browse(page, tmp_path)
    assert browsed.console == []
    # the figures are in the DOM Chromium built
    shown = figures(browsed.dom)
    if which == "index":
        assert shown["sources-rebuilt"] == "6" and shown["relations-dropped"] == "9"
        assert shown["installed-after"] == "13,161 KiB (12.9 MiB)"
    else:
        assert shown["packages"] == "4" and shown["size-ratio"] == "0.69"
        assert browsed.dom.count('data-package=') == 4
    png = read_png(browsed.screenshot)
    assert (png.width, png.height) == (1280, 2000)
    assert browsed.screenshot.stat().st_size > 20_000
    assert len(set(png.rows)) > 200  # text, tables and charts: not one colour
    # the stylesheet was loaded (CSP 'self' let it in): the header bar is #16263d
    assert png.pixel(4, 4) == (0x16, 0x26, 0x3D)
    assert png.pixel(4, 200) == (0xFF, 0xFF, 0xFF)
