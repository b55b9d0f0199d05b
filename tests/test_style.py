"""House style that a reviewer would otherwise have to catch: no section banners, no module
imported twice, and module-level imports at the top (where a reader looks for them)."""
import ast
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BANNER = re.compile(r"^\s*#\s*-{2}.*-{3,}\s*$|^\s*#\s*[-=]{4,}\s*$")


def _files(*dirs):
    for d in dirs:
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for f in sorted(files):
                if f.endswith(".py"):
                    yield os.path.join(dirpath, f)


def _rel(path):
    return os.path.relpath(path, ROOT)


def banners(path):
    with open(path, encoding="utf-8") as f:
        return [f"{_rel(path)}:{i}" for i, line in enumerate(f, 1) if BANNER.match(line)]


def test_no_section_banners():
    found = [b for p in _files("scratchnet", "benchmarks", "lessons") for b in banners(p)]
    assert not found, "section banners (`# -- x ----`); a docstring or a module split " \
                      "says it better:\n" + "\n".join(found)


def test_banner_check_catches_one(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("x = 1\n\n\n# -- helpers ---------------------------------\ndef f():\n"
                 "    # ==========\n    pass\n# a comment -- with dashes --- is fine\n")
    assert len(banners(str(p))) == 2


def import_problems(path):
    """Duplicate module-level imports, and module-level imports after other code. Only the
    package's __init__ may import after code (`noqa: E402`): it sets OMP_WAIT_POLICY before
    numba starts, on purpose."""
    src = open(path, encoding="utf-8").read()
    lines = src.splitlines()
    tree = ast.parse(src)
    seen, problems, code_started = {}, [], False
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            allowed = path.endswith(os.path.join("scratchnet", "__init__.py")) \
                and "noqa: E402" in lines[node.lineno - 1]
            if code_started and not allowed:
                problems.append(f"{_rel(path)}:{node.lineno} imports after code")
            mod = node.module if isinstance(node, ast.ImportFrom) else None
            for a in node.names:
                key = (node.level if isinstance(node, ast.ImportFrom) else 0, mod, a.name,
                       a.asname)
                if key in seen:
                    problems.append(f"{_rel(path)}:{node.lineno} imports {a.name} again "
                                    f"(first at line {seen[key]})")
                seen[key] = node.lineno
        elif isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None),
                                                      ast.Constant) and node is tree.body[0]:
            continue     # the module docstring
        elif isinstance(node, (ast.If, ast.Try)) and not code_started:
            continue     # conditional imports at the top (try: import torch)
        else:
            code_started = True
    return problems


def test_imports_once_and_at_the_top():
    found = [p for f in _files("scratchnet") for p in import_problems(f)]
    assert not found, "\n".join(found)


def test_import_check_catches_both(tmp_path):
    # the two leftovers this check was written for: nn/__init__.py imported utils twice,
    # ops/methods.py imported builtins halfway down (behind a noqa)
    p = tmp_path / "x.py"
    p.write_text('"""doc"""\nfrom . import utils\nfrom . import utils\nX = 1\n'
                 "import builtins as _builtins  # noqa: E402\n")
    problems = import_problems(str(p))
    assert len(problems) == 2
    assert "imports utils again" in problems[0] and "imports after code" in problems[1]
