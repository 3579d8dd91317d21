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
    return names


def needs_inspector(path: Path) -> bool:
    return any(m.split(".")[0] in INSPECTOR_MODULES for m in imported_modules(path))


def test_inspector_tests_are_exactly_the_files_that_import_the_inspector() -> None:
    test_files = {p.relative_to(TESTS).as_posix(): p for p in TESTS.rglob("test_*.py")}
    assert test_files.keys() >= INSPECTOR_TESTS, "listed but missing"
    assert {rel for rel, p in test_files.items() if needs_inspector(p)} == INSPECTOR_TESTS


def test_helpers_the_watcher_tests_use_do_not_import_the_inspector() -> None:
    for helper in ("clips.py", "footage.py", "inspector_env.py", "nuisance.py", "proc.py", "stack.py"):
        assert not needs_inspector(TESTS / helper), helper
