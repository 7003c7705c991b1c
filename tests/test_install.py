"""The install: ./setup.sh builds .venv from requirements-lock.txt, and rebuilds a .venv it cannot
trust (made by an unsupported Python, or one that does not run).

These tests run the real setup.sh on a copy of the repository's tracked files, so they install
every locked package into a fresh venv (pip's cache makes that about half a minute; the first
run on a machine also compiles durable-rules). They need PyPI, as ./setup.sh does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-lock.txt"
IMPORTS = ["durable", "engine", "yaml", "jsonschema", "click", "openpyxl", "xlrd", "pytest", "hypothesis"]
PYENV = Path.home() / ".pyenv" / "versions"


def tracked_copy(folder: Path) -> Path:
    """A copy of the files git tracks (and of the lock, tracked or not yet), as a fresh clone has."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    names = {name for name in listed.stdout.decode().split("\0") if name} | {LOCK.name}
    copy = folder / "certify"
    for name in names:
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def setup(copy: Path, **env: str) -> subprocess.CompletedProcess[str]:
    run_env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "VIRTUAL_ENV")}
    run_env.update(env)
    return subprocess.run(["bash", "setup.sh"], cwd=copy, env=run_env, capture_output=True, text=True,
                          timeout=1800)


def python_of(version: str) -> str | None:
    """An interpreter of that minor version, wherever this machine keeps one."""
    for name in (f"python{version}",):
        found = shutil.which(name)
        if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
            return found
    for folder in sorted(PYENV.glob(f"{version}.*")):
        candidate = folder / "bin" / f"python{version}"
        if candidate.exists():
            return str(candidate)
    return None


def canonical(name: str) -> str:
    """A package name as PEP 503 compares them: ruamel.yaml, ruamel_yaml and Ruamel-YAML are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions() -> dict[str, list[str]]:
    versions: dict[str, list[str]] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        found = re.match(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", line)
        if found:
            versions.setdefault(canonical(found.group(1)), []).append(found.group(2))
    return versions


def test_the_lock_pins_every_package_exactly_with_hashes():
    text = LOCK.read_text(encoding="utf-8")
    requirements = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert requirements
    for line in requirements:
        assert re.match(r"^[A-Za-z0-9_.-]+==\S+", line), line
    assert text.count("--hash=sha256:") >= len(requirements)
    versions = locked_versions()
    for name in ("durable-rules", "pyyaml", "jsonschema", "click", "openpyxl", "xlrd", "pytest", "hypothesis"):
        assert name in versions, f"{name} is not in {LOCK.name}"


def test_the_lock_is_within_the_ranges_of_pyproject():
    tomllib = pytest.importorskip("tomllib")
    from packaging.requirements import Requirement  # noqa: PLC0415 - pytest depends on packaging

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    versions = locked_versions()
    for text in wanted:
        requirement = Requirement(text)
        name = canonical(requirement.name)
        assert name in versions, f"{name} (pyproject.toml) is missing from {LOCK.name}: run scripts/refresh-lock.sh"
        for version in versions[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{LOCK.name} pins {name}=={version}, outside pyproject's {requirement.specifier}: "
                "run KEEP=1 scripts/refresh-lock.sh")


def test_setup_rebuilds_a_venv_of_an_unsupported_python_from_the_lock(tmp_path: Path):
    copy = tracked_copy(tmp_path)
    stale = python_of("3.13")
    if stale:  # what happened to a new user: a .venv made by Python 3.13 stayed behind
        subprocess.run([stale, "-m", "venv", "--without-pip", str(copy / ".venv")], check=True)
        reason = "made with Python 3.13"
    else:  # a .venv whose interpreter is gone
        (copy / ".venv" / "bin").mkdir(parents=True)
        (copy / ".venv" / "pyvenv.cfg").write_text("home = /nonexistent\n", encoding="utf-8")
        (copy / ".venv" / "bin" / "python").symlink_to("/nonexistent/python3")
        reason = "does not run"

    first = setup(copy, PYTHON=sys.executable)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "rebuilding .venv" in first.stderr and reason in first.stderr
    assert "--require-hashes" in (copy / "setup.sh").read_text(encoding="utf-8")
    venv_python = copy / ".venv" / "bin" / "python"
    imported = subprocess.run([str(venv_python), "-c", "import " + ", ".join(IMPORTS) + "; import yaml; print(yaml.__version__)"],
                              cwd=copy, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() in locked_versions()["pyyaml"]  # the locked release, not the newest
    check = subprocess.run([str(venv_python), "-m", "pip", "check"], cwd=copy, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    certify = subprocess.run([str(copy / ".venv" / "bin" / "certify"), "validate", "rules/"], cwd=copy,
                             capture_output=True, text=True)
    assert certify.returncode == 0, certify.stdout + certify.stderr

    again = setup(copy, PYTHON=sys.executable)  # a healthy, current .venv is kept as it is
    assert again.returncode == 0 and "rebuilding" not in again.stderr and "setting up" not in again.stderr

    if stale:  # asked for an unsupported Python, setup says what to run instead
        refused = setup(copy, PYTHON=stale)
        assert refused.returncode == 1 and "PYTHON=python3.12 ./setup.sh" in refused.stderr
        assert venv_python.exists()  # and leaves the working .venv alone


def test_setup_leaves_a_dot_venv_that_is_not_a_venv_alone(tmp_path: Path):
    copy = tracked_copy(tmp_path)
    (copy / ".venv").mkdir()
    (copy / ".venv" / "notes.txt").write_text("mine\n", encoding="utf-8")
    done = setup(copy, PYTHON=sys.executable)
    assert done.returncode == 1 and "mv .venv .venv.old && ./setup.sh" in done.stderr
    assert (copy / ".venv" / "notes.txt").exists()
