"""The code's shape, held by tests: the capabilities' layers (import-linter's contracts in
pyproject.toml, the same `make lint` runs) and no import hidden inside a function."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_imports_keep_the_layer_contracts():
    # The CLI, as `make lint` runs it; no cache, so parallel test processes write nothing.
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Imports that stay inside a function, each with its reason. Nothing else may: an import in a
# function hides a dependency, and usually a cycle the layers forbid.
DEFERRED_IMPORTS = {
    # boto3 and botocore take about 0.15 s to import (python -X importtime) and only the S3
    # backend needs them; local storage (development, most tests) never loads them.
    ("app/storage.py", "boto3"): "heavy, only S3Storage needs it",
    ("app/storage.py", "boto3.s3.transfer"): "heavy, only S3Storage needs it",
    ("app/storage.py", "botocore.config"): "heavy, only S3Storage needs it",
    ("app/storage.py", "boto3.exceptions"): "heavy, only S3Storage needs it",
    ("app/storage.py", "botocore.exceptions"): "heavy, only S3Storage needs it",
}


def _function_level_imports() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()

    def visit(path: str, node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(path, child, True)
            elif in_function and isinstance(child, ast.Import):
                found.update((path, alias.name) for alias in child.names)
            elif in_function and isinstance(child, ast.ImportFrom):
                found.add((path, "." * child.level + (child.module or "")))
            else:
                visit(path, child, in_function)

    for package in ("app", "media_worker"):
        for file in sorted((ROOT / package).rglob("*.py")):
            path = file.relative_to(ROOT).as_posix()
            visit(path, ast.parse(file.read_text(encoding="utf-8"), path), False)
    return found


def test_no_import_hides_inside_a_function_except_the_deferred_ones():
    found = _function_level_imports()
    assert sorted(found - DEFERRED_IMPORTS.keys()) == []


def test_every_deferred_import_still_exists():
    # An entry whose import went away is removed from the list too, so the list stays short.
    assert sorted(DEFERRED_IMPORTS.keys() - _function_level_imports()) == []
