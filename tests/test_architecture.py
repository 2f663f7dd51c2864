"""The import graph of ``src/tenure`` keeps its shape (docs/ARCHITECTURE.md, "Layers").

Every module is parsed with :mod:`ast`; every import counts, at module level, inside a function
or under ``TYPE_CHECKING``. The checks: layers import downward only and the estimators stand
apart; no private name (``_x``) crosses a module; no import circle; and no file of the
package or the docs refers to a file that is not in the repository.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

#: The layers, lowest first: a module imports its own package and the packages of lower rows,
#: never those of its own row or above. docs/ARCHITECTURE.md holds the same table.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("errors", ("tenure.errors",)),
    ("config, progress", ("tenure.config", "tenure.progress")),
    ("store", ("tenure.store",)),
    ("ingest, demo", ("tenure.ingest", "tenure.demo")),
    ("identity", ("tenure.identity",)),
    ("analytics", ("tenure.analytics",)),
    ("predictions, recommend", ("tenure.predictions", "tenure.recommend")),
    ("engage", ("tenure.engage",)),
    ("deliver", ("tenure.deliver",)),
    ("advisor", ("tenure.advisor",)),
    ("dashboard", ("tenure.dashboard",)),
    ("pipeline", ("tenure.pipeline",)),
    ("service", ("tenure.service",)),
    ("api", ("tenure",)),
    ("cli", ("tenure.cli",)),
]
#: The pure estimators stand beside the layers: they import only these of ours ...
MODELS = "tenure.models"
MODELS_IMPORT = frozenset({"tenure.models", "tenure.errors"})
#: ... and these libraries (besides the standard library) ...
MODELS_LIBRARIES = frozenset({"numpy", "scipy", "pandas", "sklearn", "threadpoolctl"})
#: ... and only these import them.
MODELS_IMPORTED_BY = frozenset({"tenure.predictions", "tenure.pipeline", "tenure.cli"})
#: The same table as it reads in docs/ARCHITECTURE.md (the estimators' row last).
TABLE = [*LAYERS, ("estimators", (MODELS,))]

RANK = {package: rank for rank, (_, packages) in enumerate(LAYERS) for package in packages}


@dataclass(frozen=True)
class Import:
    """One imported module (or name of a module) at one place of the source."""

    importer: str
    target: str  # the module the import reaches (``tenure.x.y``, or a library's top name)
    names: tuple[str, ...]  # the names taken from it (``from target import names``)
    path: Path
    line: int
    text: str

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: `{self.text}`"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {_module_name(p): p for p in sorted((SRC / "tenure").rglob("*.py"))}


def package_of(module: str) -> str:
    """The row key of a module: ``tenure.x`` for anything under ``tenure/x``; the root
    ``tenure`` for ``tenure/__init__.py``."""
    return ".".join(module.split(".")[:2])


def _base(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, node.module] if node.module else package)


def _imports_of(module: str, path: Path) -> Iterator[Import]:
    source = path.read_text()
    lines = source.splitlines()
    known = modules()
    for node in ast.walk(ast.parse(source)):
        text = lines[node.lineno - 1].strip() if isinstance(node, ast.stmt) else ""
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, (), path, node.lineno, text)
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, path, node)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in known:  # ``from package import submodule``
                    yield Import(module, full, (), path, node.lineno, text)
                else:
                    yield Import(module, base, (alias.name,), path, node.lineno, text)


@cache
def imports() -> tuple[Import, ...]:
    return tuple(i for m, p in modules().items() for i in _imports_of(m, p))


def internal() -> list[Import]:
    return [i for i in imports() if i.target == "tenure" or i.target.startswith("tenure.")]


def _fail(problems: list[str], what: str) -> None:
    assert not problems, f"{what}:\n" + "\n".join(sorted(set(problems)))


def test_every_package_has_a_row_in_the_layer_table() -> None:
    rows = {*RANK, MODELS}
    missing = [f"{p.relative_to(ROOT)}" for m, p in modules().items() if package_of(m) not in rows]
    _fail(missing, "modules of a package the layer table (LAYERS, docs/ARCHITECTURE.md) lacks")


def _layer_problem(i: Import) -> str | None:
    mine, theirs = package_of(i.importer), package_of(i.target)
    if mine == theirs:
        return None
    if mine == MODELS:
        if theirs in MODELS_IMPORT:
            return None
        return f"{i.where()}: the estimators import only {sorted(MODELS_IMPORT)}"
    if theirs == MODELS:
        if mine in MODELS_IMPORTED_BY:
            return None
        return f"{i.where()}: only {sorted(MODELS_IMPORTED_BY)} import the estimators"
    if theirs not in RANK or mine not in RANK:
        return f"{i.where()}: {theirs if theirs not in RANK else mine} is not in the layer table"
    if RANK[theirs] < RANK[mine]:
        return None
    where = "shares its row" if RANK[theirs] == RANK[mine] else "comes after it"
    return f"{i.where()}: {mine} imports {theirs}, which {where} in the layer table"


def test_layers_import_downward_only() -> None:
    _fail([p for i in internal() if (p := _layer_problem(i))], "imports against the layer order")


def test_the_estimators_use_only_the_numeric_libraries() -> None:
    allowed = MODELS_LIBRARIES | set(sys.stdlib_module_names) | {"tenure"}
    problems = [
        f"{i.where()}: the estimators do not use {i.target.split('.')[0]}"
        for i in imports()
        if package_of(i.importer) == MODELS and i.target.split(".")[0] not in allowed
    ]
    _fail(problems, "libraries imported by tenure.models")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_module_problem(i: Import) -> str | None:
    """A private module (``_x.py``) is imported from inside its own package only."""
    parts = i.target.split(".")
    for depth, part in enumerate(parts):
        owner = ".".join(parts[:depth])
        if _private(part) and not i.importer.startswith(owner + "."):
            return f"{i.where()}: {i.target} is private to {owner}"
    return None


def _attribute_uses(module: str, path: Path) -> Iterator[str]:
    """``mod._name`` where ``mod`` is one of our modules imported under that name."""
    tree = ast.parse(path.read_text())
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound |= {(a.asname or a.name): a.name for a in node.names if a.asname}
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, path, node)
            for a in node.names:
                if f"{base}.{a.name}" in modules():
                    bound[a.asname or a.name] = f"{base}.{a.name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and bound.get(node.value.id, "").startswith("tenure")
        ):
            yield (
                f"{path.relative_to(ROOT)}:{node.lineno}: `{node.value.id}.{node.attr}` "
                f"reads a private name of {bound[node.value.id]}"
            )


def test_no_private_name_is_imported_from_another_module() -> None:
    problems = [
        f"{i.where()}: `{name}` is private to {i.target}"
        for i in internal()
        for name in i.names
        if _private(name)
    ]
    problems += [p for i in internal() if (p := _private_module_problem(i))]
    problems += [p for m, path in modules().items() for p in _attribute_uses(m, path)]
    _fail(problems, "private names used outside their module (make them public where they belong)")


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in modules()}
    for i in internal():
        if i.target in edges and i.target != i.importer:
            edges[i.importer].add(i.target)
    return edges


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components (iterative), those of more than one module only."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    part = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        part.append(top)
                        if top == node:
                            break
                    if len(part) > 1:
                        found.append(sorted(part))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert strongly_connected(edges) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_circle() -> None:
    problems = []
    for part in strongly_connected(graph()):
        inside = {i.where() for i in internal() if i.importer in part and i.target in part}
        problems.append(f"circle {' <-> '.join(part)}:\n    " + "\n    ".join(sorted(inside)))
    _fail(
        problems,
        "import circles (imports under TYPE_CHECKING count too: move what both sides need into a "
        "module of its own, or type the parameter with a Protocol)",
    )


def test_no_submodule_imports_a_package_that_imports_its_submodules() -> None:
    """``tenure/x/__init__.py`` may gather its submodules' names, and then no submodule
    imports ``tenure.x`` itself: importing one would run the ``__init__`` that imports it.
    The root ``tenure`` is the public API, a layer of its own below the CLI."""
    packages = {m for m, p in modules().items() if p.name == "__init__.py"} - {"tenure"}
    gathering = {i.importer for i in internal() if i.importer in packages}
    gathering = {p for p in gathering if any(t.startswith(p + ".") for t in graph()[p])}
    problems = [
        f"{i.where()}: {i.target}/__init__.py imports its submodules; import the submodule"
        for i in internal()
        if i.target in gathering and i.importer.startswith(i.target + ".")
    ]
    _fail(problems, "submodules importing their package")


# --- references to files -------------------------------------------------------------------

#: A path-like token: ``docs/x.md``, ``src/tenure/x.py``, ``tenure/x/``, or a bare ``X.md``.
_PATH = re.compile(
    r"(?<![\w./-])((?:\.\./)*(?:[\w.-]+/)*[\w.-]*(?:/|\.(?:md|py|yaml|yml|toml|txt|json|csv)))"
    r"(?![\w/-])"
)
_TOP = ("docs/", "src/", "tests/", "bench/", ".ci/", "tenure/", "../", "/work/")


def _ignored(path: str) -> bool:
    """Paths under a gitignored directory (benchmark outputs and data)."""
    ignored = [
        line.strip().rstrip("/") + "/"
        for line in (ROOT / ".gitignore").read_text().splitlines()
        if line.strip().endswith("/") and "*" not in line
    ]
    return any(path.startswith(i) for i in ignored)


def _exists(token: str) -> bool:
    if token.startswith("tenure/"):
        token = "src/" + token
    if "/" not in token:  # a bare document name: at the root or in docs/
        return (ROOT / token).exists() or (ROOT / "docs" / token).exists()
    return (ROOT / token).exists() or _ignored(token)


def _documents() -> list[Path]:
    return [
        *sorted((SRC / "tenure").rglob("*.py")),
        *sorted((ROOT / "docs").rglob("*.md")),
        ROOT / "README.md",
    ]


def _references(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        for token in _PATH.findall(line):
            token = token.rstrip(".")
            if token.startswith(_TOP) or ("/" not in token and token.endswith(".md")):
                yield number, token


def test_reference_scanner_reads_paths() -> None:
    line = "see docs/models.md, `tenure/cli/` and ../shared/STYLE.md or MISSION.md; x.py"
    assert _PATH.findall(line) == [
        "docs/models.md",
        "tenure/cli/",
        "../shared/STYLE.md",
        "MISSION.md",
        "x.py",
    ]


def test_no_reference_to_a_file_outside_the_repository_or_missing() -> None:
    problems = []
    for path in _documents():
        for number, token in _references(path):
            where = f"{path.relative_to(ROOT)}:{number}"
            if token.startswith(("../", "/")) or "shared/" in token:
                problems.append(f"{where}: `{token}` is outside the repository")
            elif "*" not in token and not _exists(token):
                problems.append(f"{where}: `{token}` does not exist in the repository")
    _fail(problems, "references to files that are not in the repository")


# --- the table in the docs ---------------------------------------------------------------


def test_architecture_doc_states_the_same_layer_table() -> None:
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = re.search(r"^## Layers\n(.*?)(?=^## |\Z)", doc, flags=re.S | re.M)
    assert section, "docs/ARCHITECTURE.md has no '## Layers' section"
    rows = re.findall(r"^\| *([^|`]+?) *\| *([^|]*) \|", section.group(1), flags=re.M)
    documented = [
        (name, tuple(re.findall(r"`([\w.]+)`", packages)))
        for name, packages in rows
        if not set(name) <= {"-", " "} and name != "layer"
    ]
    assert documented == TABLE
