"""The layering rule of design.md, checked on the source: ui/ never imports boto3/botocore,
and wizard/ never imports Qt. Walks the AST of every file, so an import hidden inside a
function (the GUI loads the engine lazily) is caught too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args \
                and isinstance(node.args[0], ast.Constant) \
                and (getattr(node.func, "id", "") == "__import__"
                     or getattr(node.func, "attr", "") == "import_module"):
            out.append((node.lineno, str(node.args[0].value)))
    return out


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    return [f"{f.relative_to(ROOT)}:{line} imports {name}"
            for f in files for line, name in imported_modules(f)
            if name.split(".")[0] in forbidden]


def test_ui_never_imports_boto3_or_botocore() -> None:
    assert offenders("ui", ("boto3", "botocore", "s3transfer", "moto")) == []


def test_wizard_never_imports_qt() -> None:
    assert offenders("wizard", ("PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6")) == []


@pytest.mark.parametrize("source, found", [
    ("import boto3", ["boto3"]),
    ("def f():\n    from botocore.config import Config", ["botocore.config"]),
    ("__import__('boto3')", ["boto3"]),
    ("from . import x", []),
])
def test_the_checker_sees_hidden_imports(tmp_path: Path, source: str, found: list[str]) -> None:
    f = tmp_path / "m.py"
    f.write_text(source)
    assert [name for _, name in imported_modules(f)] == found
