"""The hostile corpus (tests/hostile/*/attack.yaml): every attack produces its code, stays within
its bound, and never ends in a traceback. See tests/hostile/README.md for the format."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "hostile"
# Not a speed check: a guard so that a hang fails this one test instead of the whole CI run.
HANG_GUARD_SECONDS = 300
KEYS = {"attack", "issue", "generate", "command", "expect", "then"}
EXPECT_KEYS = {"exit", "codes", "absent", "max_rss_mb", "json", "stdin", "files"}


def attacks() -> list[Path]:
    return sorted(p.parent for p in CORPUS.glob("*/attack.yaml"))


def _substitute(arg: str, folder: Path) -> str:
    if arg.startswith(("rules/", "fixtures/", "tests/format1/")):
        return str(ROOT / arg)
    return arg.replace("{dir}", str(folder)).replace("{root}", str(ROOT))


def _dotted(doc: Any, path: str) -> Any:
    for part in path.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def run_attack(source: Path, folder: Path) -> tuple[int, str, str, dict[str, Any]]:
    spec = yaml.safe_load((source / "attack.yaml").read_text(encoding="utf-8"))
    assert set(spec) <= KEYS and set(spec.get("expect", {})) <= EXPECT_KEYS, f"unknown keys in {source}/attack.yaml"
    shutil.copytree(source, folder, dirs_exist_ok=True)
    if spec.get("generate"):
        module_spec = importlib.util.spec_from_file_location(f"hostile_{source.name}", source / spec["generate"])
        module = importlib.util.module_from_spec(module_spec)
        assert module_spec.loader is not None
        module_spec.loader.exec_module(module)
        module.generate(folder)
    code, out, err = run_command(source, folder, spec["command"], spec["expect"])
    return code, out, err, spec


def run_command(source: Path, folder: Path, command: list[Any], expect: dict[str, Any]) -> tuple[int, str, str]:
    argv = [sys.executable, str(ROOT / "cli.py")] + [_substitute(str(a), folder) for a in command]
    stdin = open(folder / expect["stdin"], "rb") if expect.get("stdin") else subprocess.DEVNULL
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    with subprocess.Popen(argv, cwd=folder, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env) as process:
        try:
            out, err = process.communicate(timeout=HANG_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            pytest.fail(f"{source.name}: no answer in {HANG_GUARD_SECONDS} s (hang guard)")
    if stdin is not subprocess.DEVNULL:
        stdin.close()
    return process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _peak_rss_mb(argv: list[str], folder: Path, env: dict[str, str]) -> float:
    """Peak memory of one run of the command, measured for that process alone (wait4).

    Started through a small launcher process: Linux carries a process's peak RSS across fork and
    exec, so a command forked straight from this pytest process (hundreds of MB after a full run)
    would report pytest's peak, not its own."""
    launcher = ("import os, subprocess, sys\n"
                "p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, "
                "stderr=subprocess.DEVNULL)\n"
                "_, status, usage = os.wait4(p.pid, 0)\n"
                "print(usage.ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", launcher, *argv], cwd=folder, env=env, capture_output=True,
                         text=True, check=True)
    return int(out.stdout.strip()) / 1024  # Linux reports kilobytes


@pytest.mark.parametrize("source", attacks(), ids=lambda p: p.name)
def test_attack(source: Path, tmp_path: Path) -> None:
    folder = tmp_path / source.name
    code, out, err, spec = run_attack(source, folder)
    _check(source, folder, spec["command"], spec["expect"], code, out, err)
    # `then`: more commands on the same (generated) inputs, e.g. validate, then evaluate
    for step in spec.get("then") or []:
        assert set(step) <= {"command", "expect"} and set(step["expect"]) <= EXPECT_KEYS, source.name
        code, out, err = run_command(source, folder, step["command"], step["expect"])
        _check(source, folder, step["command"], step["expect"], code, out, err)


def _check(source: Path, folder: Path, command: list[Any], expect: dict[str, Any], code: int, out: str,
           err: str) -> None:
    both = out + err
    for text in ["Traceback"] + list(expect.get("absent", [])):
        assert text not in both, f"{source.name}: {text!r} in the output:\n{both[-3000:]}"
    if "exit" in expect:
        assert code == expect["exit"], f"{source.name}: exit {code}, expected {expect['exit']}\n{both[-3000:]}"
    for wanted in expect.get("codes", []):
        assert wanted in both, f"{source.name}: {wanted} not reported\n{both[-3000:]}"
    if expect.get("json"):
        doc = json.loads(out)
        for path, value in expect["json"].items():
            assert _dotted(doc, path) == value, f"{source.name}: {path} = {_dotted(doc, path)!r}, expected {value!r}"
    for name, state in expect.get("files", {}).items():
        assert (folder / name).exists() == (state == "exists"), f"{source.name}: {name} should be {state}"
    if "max_rss_mb" in expect and not expect.get("stdin"):
        argv = [sys.executable, str(ROOT / "cli.py")] + [_substitute(str(a), folder) for a in command]
        peak = _peak_rss_mb(argv, folder, dict(os.environ, PYTHONPATH=str(ROOT)))
        assert peak <= expect["max_rss_mb"], f"{source.name}: peak memory {peak:.0f} MB > {expect['max_rss_mb']} MB"


def test_every_attack_names_its_code_and_exit() -> None:
    for source in attacks():
        spec = yaml.safe_load((source / "attack.yaml").read_text(encoding="utf-8"))
        assert spec.get("attack") and spec.get("command"), source.name
        assert "exit" in spec["expect"] and (spec["expect"].get("codes") or spec["expect"]["exit"] == 0), source.name
