"""The pre-commit hooks (.pre-commit-hooks.yaml), run by the real pre-commit tool on a temporary
git repository of rule packs: a clean pack passes, a broken pack fails with file:line.

Two ways in, because pre-commit installs `language: python` hooks into a fresh virtualenv with
pip — which needs the network and a C compiler for durable-rules and takes ~20-60 s:

- `test_hooks_as_local_hooks` (always): each hook of our manifest, with its files / exclude /
  pass_filenames / args unchanged, becomes a `repo: local` hook with `language: system` whose
  entry is this venv's `certify`. This exercises the manifest's filters and commands with the
  real tool, quickly and offline.
- `test_hooks_from_a_git_revision` (opt-in: CERTIFY_PRECOMMIT_INSTALL=1): the way another
  repository uses them — `repo: <a git clone of this working tree>` at a committed `rev`, so
  pre-commit reads the manifest and pip-installs certify itself.

Both skip, saying why, when pre-commit is not installed and cannot be (no network).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"
SUITE = ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.tests.yaml"
TOWNS = ROOT / "tests" / "format1" / "fixtures" / "huguan-towns.yaml"  # the format-1 suite's expectations
DELIBERATE = [ROOT / "tests" / "format1" / "rules" / "lianyungang-four-highs.yaml",
              ROOT / "tests" / "format1" / "rules" / "jiangxi-park-targets.yaml"]
BIN = Path(sys.executable).parent
GIT_ENV = {"GIT_AUTHOR_NAME": "certify tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid",
           "GIT_COMMITTER_NAME": "certify tests", "GIT_COMMITTER_EMAIL": "tests@example.invalid"}


@pytest.fixture(scope="module")
def pre_commit() -> str:
    found = BIN / "pre-commit"
    if not found.exists():
        on_path = shutil.which("pre-commit")
        if on_path:
            return on_path
        try:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pre-commit"], check=True,
                           capture_output=True, timeout=180)
        except (subprocess.SubprocessError, OSError) as error:
            pytest.skip(f"pre-commit is not installed and `pip install pre-commit` failed (no network?): {error}")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    return str(found)


def _run(args: list[str], cwd: Path, home: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PRE_COMMIT", None)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _consumer(tmp_path: Path, config: dict[str, Any]) -> Path:
    """A repository of rule packs laid out as the hooks expect: rules/ and fixtures/."""
    repo = tmp_path / "packs"
    (repo / "rules").mkdir(parents=True)
    (repo / "fixtures").mkdir()
    shutil.copy(PACK, repo / "rules" / PACK.name)
    shutil.copy(SUITE, repo / "rules" / SUITE.name)
    for deliberate in DELIBERATE:  # packs whose W201 warnings are deliberate (silenced with reasons)
        shutil.copy(deliberate, repo / "rules" / deliberate.name)
    shutil.copy(TOWNS, repo / "fixtures" / TOWNS.name)
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    return repo


def _break(repo: Path) -> int:
    """Write an unreadable amount into the pack; return its line."""
    pack = repo / "rules" / PACK.name
    text = pack.read_text(encoding="utf-8")
    assert text.count("value: 10亿元") == 1
    pack.write_text(text.replace("value: 10亿元", "value: 10亿园"), encoding="utf-8")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    return next(i + 1 for i, line in enumerate(text.splitlines()) if "value: 10亿元" in line)


def _warn(repo: Path) -> int:
    """Declare a parameter no criterion uses (a new W200); return its line."""
    pack = repo / "rules" / PACK.name
    text = pack.read_text(encoding="utf-8")
    assert text.count("\nparameters:\n") == 1
    pack.write_text(text.replace("\nparameters:\n", "\nparameters:\n  spare_min:\n    value: 1亿元\n    cite: 二\n"
                                 "    label: {zh: 多余, en: spare}\n"), encoding="utf-8")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    return text.splitlines().index("parameters:") + 2


def _check_clean_then_broken(pre_commit: str, repo: Path, home: Path, hook_ids: list[str]) -> None:
    clean = _run([pre_commit, "run", "--all-files"], repo, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.count("Passed") == len(hook_ids), clean.stdout
    original = (repo / "rules" / PACK.name).read_bytes()
    line = _warn(repo)
    warned = _run([pre_commit, "run", "--all-files"], repo, home)
    assert warned.returncode == 1, warned.stdout + warned.stderr
    assert f"rules/{PACK.name}:{line}:" in warned.stdout and "W200" in warned.stdout, warned.stdout
    assert warned.stdout.count("Failed") == 1 and "hook id: certify-lint" in warned.stdout, warned.stdout
    (repo / "rules" / PACK.name).write_bytes(original)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    line = _break(repo)
    broken = _run([pre_commit, "run", "--all-files"], repo, home)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    where = f"rules/{PACK.name}:{line}:"
    assert where in broken.stdout and "E123" in broken.stdout, broken.stdout
    assert "hook id: certify-validate" in broken.stdout
    assert broken.stdout.count("Failed") == len(hook_ids)  # lint and test refuse the broken pack too


def test_manifest_declares_the_three_hooks():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["certify-validate", "certify-lint", "certify-test"]
    for hook in hooks:
        assert hook["language"] == "python" and hook["entry"].startswith("certify ")
    assert next(h for h in hooks if h["id"] == "certify-test")["pass_filenames"] is False


def test_hooks_as_local_hooks(pre_commit: str, tmp_path: Path):
    manifest = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hooks = []
    for hook in manifest:
        local = {k: v for k, v in hook.items() if k != "description"}
        local["language"] = "system"  # pre-commit >= 4.4 reads this as `unsupported`: runs as is
        local["entry"] = str(BIN / "certify") + hook["entry"][len("certify"):]
        hooks.append(local)
    repo = _consumer(tmp_path, {"repos": [{"repo": "local", "hooks": hooks}]})
    _check_clean_then_broken(pre_commit, repo, tmp_path / "home", [h["id"] for h in manifest])


@pytest.mark.skipif(os.environ.get("CERTIFY_PRECOMMIT_INSTALL") != "1",
                    reason="pip-installs certify and durable-rules into a fresh pre-commit env (network, C compiler, "
                           "~30 s); set CERTIFY_PRECOMMIT_INSTALL=1 to run")
def test_hooks_from_a_git_revision(pre_commit: str, tmp_path: Path):
    clone = tmp_path / "certify"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode("utf-8").split("\0")
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / rel)
    home = tmp_path / "home"
    for args in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "snapshot"]):
        assert _run(args, clone, home).returncode == 0
    rev = _run(["git", "rev-parse", "HEAD"], clone, home).stdout.strip()
    ids = ["certify-validate", "certify-lint", "certify-test"]
    config = {"repos": [{"repo": str(clone), "rev": rev, "hooks": [{"id": i} for i in ids]}]}
    repo = _consumer(tmp_path, config)
    _check_clean_then_broken(pre_commit, repo, home, ids)
