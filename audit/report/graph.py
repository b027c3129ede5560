"""The dependency graph of an image, laid out in Python for an inline SVG (no service, no JS).

Nodes are the installed packages. Edges go from a package to the installed package
that satisfies each of its Pre-Depends/Depends (the first installed alternative), plus
the edge each why-chain ends with (which names the provider of a virtual package).
Layout: cycles are broken by a depth-first search from the roots (the broken edges
are still drawn, dashed), nodes get their longest-path layer from the roots, and each
layer is ordered by a few barycentre sweeps. Everything is sorted: the same image
gives the same drawing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from debian.deb822 import PkgRelation

NODE_HEIGHT = 24
LAYER_GAP = 64
NODE_GAP = 14
MARGIN = 16
CHAR_WIDTH = 7.2  # px per character of the 12px monospace label
MIN_NODE_WIDTH = 48
SWEEPS = 4
BOW = 36  # px sideways per layer an edge skips
MAX_BOW = 144


@dataclass(frozen=True)
class GraphNode:
    name: str
    layer: int
    x: float  # left
    y: float  # top
    width: float
    root: bool

    @property
    def cx(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    path: str  # SVG path data
    back: bool  # closes a cycle (drawn dashed)


@dataclass(frozen=True)
class Graph:
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    width: float
    height: float
    layers: int
    node_height: int = NODE_HEIGHT


def depends_targets(depends: str, installed: Iterable[str]) -> list[str]:
    """For each relation group, the first alternative that is installed (sorted, unique)."""
    present = set(installed)
    targets: set[str] = set()
    if not depends.strip():
        return []
    for group in PkgRelation.parse_relations(depends):
        for alternative in group:
            name = alternative["name"].strip()
            if name in present:
                targets.add(name)
                break
    return sorted(targets)


def why_parent(name: str, why: Sequence[str]) -> str | None:
    """The package whose relation pulled `name` in, from its why-chain.

    The resolver writes steps as "<parent> <field> <relation>", so the last step starts
    with the parent; a chain of bare package names ends with `name` itself, preceded
    by the parent.
    """
    if len(why) < 2:
        return None
    parent = why[-1].split(" ", 1)[0]
    return why[-2].split(" ", 1)[0] if parent == name else parent


def edges_of(depends: Mapping[str, str], why: Mapping[str, Sequence[str]]) -> set[tuple[str, str]]:
    names = set(depends)
    edges = {(name, target) for name, text in depends.items()
             for target in depends_targets(text, names) if target != name}
    for name, chain in why.items():
        parent = why_parent(name, chain)
        if parent in names and parent != name:
            edges.add((parent, name))
    return edges


def _roots(names: list[str], why: Mapping[str, Sequence[str]],
           edges: set[tuple[str, str]]) -> list[str]:
    roots = [n for n in names if len(why.get(n, ())) == 1]
    if not roots:
        targets = {t for _, t in edges}
        roots = [n for n in names if n not in targets] or names[:1]
    return roots


def _acyclic(names: list[str], roots: list[str],
             edges: set[tuple[str, str]]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The edges minus those closing a cycle (DFS from the roots, then the rest)."""
    succ: dict[str, list[str]] = {n: [] for n in names}
    for a, b in sorted(edges):
        succ[a].append(b)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    back: set[tuple[str, str]] = set()
    for start in [*roots, *names]:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(succ[start]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                back.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(succ[child])))
    return edges - back, back


def _layers(names: list[str], dag: set[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering: a node sits one layer below its lowest predecessor."""
    preds: dict[str, list[str]] = {n: [] for n in names}
    succ: dict[str, list[str]] = {n: [] for n in names}
    for a, b in dag:
        preds[b].append(a)
        succ[a].append(b)
    indegree = {n: len(preds[n]) for n in names}
    ready = sorted(n for n in names if indegree[n] == 0)
    layer = dict.fromkeys(names, 0)
    while ready:
        node = ready.pop(0)
        for child in sorted(succ[node]):
            layer[child] = max(layer[child], layer[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
        ready.sort()
    return layer


def _order(names: list[str], layer: dict[str, int],
           dag: set[tuple[str, str]]) -> list[list[str]]:
    """Nodes of each layer, ordered by barycentre sweeps (ties by name)."""
    count = max(layer.values(), default=-1) + 1
    rows = [sorted(n for n in names if layer[n] == i) for i in range(count)]
    preds: dict[str, list[str]] = {n: [] for n in names}
    succ: dict[str, list[str]] = {n: [] for n in names}
    for a, b in dag:
        preds[b].append(a)
        succ[a].append(b)

    def positions() -> dict[str, float]:
        return {n: (i + 0.5) / len(row) for row in rows for i, n in enumerate(row)}

    def sweep(indices: Iterable[int], neighbours: dict[str, list[str]]) -> None:
        for i in indices:
            pos = positions()
            rows[i].sort(key=lambda n: (
                sum(pos[m] for m in neighbours[n]) / len(neighbours[n])
                if neighbours[n] else pos[n], n))

    for _ in range(SWEEPS):
        sweep(range(1, count), preds)
        sweep(range(count - 2, -1, -1), succ)
    return rows


def node_width(name: str) -> float:
    return max(MIN_NODE_WIDTH, round(len(name) * CHAR_WIDTH + 16))


def layout(depends: Mapping[str, str], why: Mapping[str, Sequence[str]]) -> Graph:
    """Lay out the graph of the packages named by `depends` (name → Depends text)."""
    names = sorted(depends)
    edges = edges_of(depends, why)
    roots = _roots(names, why, edges)
    dag, back = _acyclic(names, roots, edges)
    layer = _layers(names, dag)
    rows = _order(names, layer, dag)
    widths = [sum(node_width(n) for n in row) + NODE_GAP * (len(row) - 1) for row in rows]
    skip = max((abs(layer[a] - layer[b]) - 1 for a, b in edges), default=0)
    width = max(widths, default=0) + 2 * (MARGIN + _bow(skip + 1))  # room for bows
    root_set = set(roots)
    nodes: dict[str, GraphNode] = {}
    for i, row in enumerate(rows):
        x = (width - widths[i]) / 2
        for name in row:
            nodes[name] = GraphNode(name, i, x, MARGIN + i * (NODE_HEIGHT + LAYER_GAP),
                                    node_width(name), name in root_set)
            x += node_width(name) + NODE_GAP
    height = 2 * MARGIN + len(rows) * NODE_HEIGHT + max(len(rows) - 1, 0) * LAYER_GAP
    drawn = [GraphEdge(a, b, _path(nodes[a], nodes[b]), (a, b) in back)
             for a, b in sorted(edges)]
    return Graph(tuple(nodes[n] for row in rows for n in row), tuple(drawn), width, height,
                 len(rows))


def _path(a: GraphNode, b: GraphNode) -> str:
    """A cubic curve from the bottom of `a` to the top of `b` (or back up, for a cycle).

    An edge that skips layers bows sideways (right going down, left going up), so that
    it does not run hidden behind the nodes of the layers it crosses.
    """
    if b.y > a.y:
        x1, y1, x2, y2 = a.cx, a.y + NODE_HEIGHT, b.cx, b.y
    else:
        x1, y1, x2, y2 = a.cx, a.y, b.cx, b.y + NODE_HEIGHT
    if a.y == b.y:  # same layer: bow below the row
        y1 = y2 = a.y + NODE_HEIGHT
        c1, c2 = (x1, y1 + LAYER_GAP / 2), (x2, y2 + LAYER_GAP / 2)
    elif abs(b.layer - a.layer) == 1:
        middle = (y1 + y2) / 2
        c1, c2 = (x1, middle), (x2, middle)
    else:
        bow = _bow(abs(b.layer - a.layer)) * (1 if b.y > a.y else -1)
        third = (y2 - y1) / 3
        c1, c2 = (x1 + bow, y1 + third), (x2 + bow, y2 - third)
    return (f"M{_n(x1)} {_n(y1)} C{_n(c1[0])} {_n(c1[1])} {_n(c2[0])} {_n(c2[1])} "
            f"{_n(x2)} {_n(y2)}")


def _bow(span: int) -> int:
    """How far sideways an edge spanning `span` layers bows."""
    return min(BOW * max(span - 1, 0), MAX_BOW)


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")
