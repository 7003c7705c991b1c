"""Writes pack.yaml: an `all` of N attested criteria (valid in every other way), and one firm."""

from pathlib import Path

N = 2000


def pack(criteria: str, inputs: int) -> str:
    lines = [
        "format: 1",
        "pack: {id: wide, version: '1.0.0', kind: eligibility, entity: firm,",
        "       title: {zh: 宽规则包, en: wide pack}, source: {title: 生成, seed: generated.txt}}",
        "inputs:",
    ]
    lines += [f"  a{i}: {{type: attestation, label: {{zh: 证明{i}}}}}" for i in range(inputs)]
    lines += ["parameters: {}", "criteria:", criteria]
    return "\n".join(lines) + "\n"


def leaf(i: int, indent: str) -> str:
    return f"{indent}- {{id: c{i}, cite: 一, title: {{zh: 条件{i}}}, test: {{attested: a{i}}}}}"


def generate(folder: Path, n: int = N) -> None:
    body = "\n".join(["  id: root", "  cite: 一", "  all:"] + [leaf(i, "    ") for i in range(n)])
    (folder / "pack.yaml").write_text(pack(body, n), encoding="utf-8")
    (folder / "firms.yaml").write_text("entities:\n  - {id: F1, name: 示例, a0: 是}\n", encoding="utf-8")
