"""The selection of the watcher's tests for the Pi's stack (tests/conftest.py) is explicit and honest:
the inspector's list holds exactly the test files that need the inspector, no more (a watcher test
listed there would never run on the Pi's stack) and no fewer (it would fail there at import)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import INSPECTOR_TESTS, TESTS

INSPECTOR_MODULES = ("inspector", "paramiko")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)  # `from tests.bench import transfer`
    return names


def _test_helper(module: str) -> Path | None:
    """The file of a module of tests/ (``tests.bench.transfer``), or None."""
    if module.split(".")[0] != "tests":
        return None
    base = TESTS.parent / module.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def needs_inspector(path: Path, seen: set[Path] | None = None) -> bool:
    """It imports the inspector, directly or through a helper module of tests/ (a benchmark, say)."""
    seen = seen if seen is not None else {path}
    for m in imported_modules(path):
        if m.split(".")[0] in INSPECTOR_MODULES:
            return True
        helper = _test_helper(m)
        if helper is not None and helper not in seen:
            seen.add(helper)
            if needs_inspector(helper, seen):
                return True
    return False


def test_inspector_tests_are_exactly_the_files_that_import_the_inspector() -> None:
    test_files = {p.relative_to(TESTS).as_posix(): p for p in TESTS.rglob("test_*.py")}
    assert test_files.keys() >= INSPECTOR_TESTS, "listed but missing"
    assert {rel for rel, p in test_files.items() if needs_inspector(p)} == INSPECTOR_TESTS


def test_helpers_the_watcher_tests_use_do_not_import_the_inspector() -> None:
    for helper in ("clips.py", "footage.py", "inspector_env.py", "nuisance.py", "proc.py", "stack.py"):
        assert not needs_inspector(TESTS / helper), helper
