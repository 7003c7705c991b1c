"""The stage layering of README "Layout", as declared in pyproject.toml's [tool.importlinter].

`lint-imports` checks the contracts (each stage imports only the stages before it, no cycle inside a
stage, durable-rules only in engine.evaluate.durable_adapter, Dask only in engine.evaluate.cluster);
a copy of the package with one bad import shows that the contracts are live. An import of an engine
module inside a function is how cycles used to be hidden, so none may appear unless a comment on it
(or just above it) starting with `# import here:` says why.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
WHY = "# import here:"

# Imports inside functions still to be removed (issue 12): (module, function, imported module).
# This list only shrinks; the test fails if an entry is gone, so that it is deleted here too.
KNOWN: set[tuple[str, str, str]] = set()


def _lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "lint-imports"
    command = [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]
    # --no-cache: the cache would be written into the work tree
    return subprocess.run(command + ["--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_import_contracts_are_kept():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout, result.stdout
    # no import is excused from the layers (validate's limits once reached into compile)
    assert "ignored import" not in result.stdout, result.stdout


def test_a_broken_contract_fails(tmp_path):
    # A copy of the package in which core reaches up into report and imports durable directly:
    # both contracts must break, so the check above cannot pass by checking nothing.
    shutil.copytree(ROOT / "engine", tmp_path / "engine",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "engine" / "core" / "leak.py").write_text(
        "import durable.lang\nfrom engine.report import outputs\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = _lint_imports(tmp_path, env)
    assert result.returncode != 0, result.stdout
    assert "2 kept, 2 broken" in result.stdout, result.stdout
    assert "engine.core.leak -> engine.report.outputs" in result.stdout
    assert "engine.core.leak -> durable" in result.stdout


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolve against this module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = package[:len(package) - node.level + 1]
        return [".".join(base + ([node.module] if node.module else []))]
    return [node.module or ""]


def function_level_engine_imports(root: Path = ROOT) -> set[tuple[str, str, str]]:
    """(module, function, imported engine module) for each import inside a function without a why."""
    found = set()
    paths = sorted((root / "engine").rglob("*.py")) + [root / "cli.py"]
    for path in paths:
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        module = _module_name(path, root)
        for function in ast.walk(ast.parse(source)):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                said = lines[node.lineno - 1] + (lines[node.lineno - 2] if node.lineno > 1 else "")
                if WHY in said:
                    continue
                for target in _imported(node, module, path.name == "__init__.py"):
                    if target == "engine" or target.startswith("engine."):
                        found.add((module, function.name, target))
    return found


def test_no_import_inside_a_function_without_a_reason():
    found = function_level_engine_imports()
    new = sorted(found - KNOWN)
    gone = sorted(KNOWN - found)
    assert not new, f"imports of engine modules inside functions (move them to the top, or say why): {new}"
    assert not gone, f"removed, so delete them from KNOWN in tests/test_layering.py: {gone}"


def test_the_scan_sees_imports_inside_functions(tmp_path):
    (tmp_path / "engine" / "core").mkdir(parents=True)
    (tmp_path / "engine" / "core" / "x.py").write_text(
        "import json\n"
        "from engine.load import data\n"             # at the top: fine
        "def f():\n    from .units import shown\n"   # relative, inside a function
        "class C:\n    def m(self):\n        from ..load import data\n"
        "def g():\n    # import here: a reason\n    import engine.load.data\n"
        "def h():\n    import json\n", encoding="utf-8")
    (tmp_path / "cli.py").write_text("def run():\n    import engine.commands.lint as lint\n", encoding="utf-8")
    assert function_level_engine_imports(tmp_path) == {
        ("engine.core.x", "f", "engine.core.units"),
        ("engine.core.x", "m", "engine.load"),
        ("cli", "run", "engine.commands.lint"),
    }
