"""Writes pack.yaml: a criterion nested 30 levels deep (an all of an all of ...), and one firm."""

from pathlib import Path

DEPTH = 30


def generate(folder: Path) -> None:
    lines = [
        "format: 1",
        "pack: {id: deep, version: '1.0.0', kind: eligibility, entity: firm,",
        "       title: {zh: 深规则包, en: deep pack}, source: {title: 生成, seed: generated.txt}}",
        "inputs:",
        "  a0: {type: attestation, label: {zh: 证明}}",
        "  a1: {type: attestation, label: {zh: 证明}}",
        "parameters: {}",
        "criteria:",
    ]
    node = "{id: leaf, cite: 一, test: {attested: a0}}"
    for level in range(DEPTH):
        node = f"{{id: n{level}, cite: 一, all: [{{id: x{level}, cite: 一, test: {{attested: a1}}}}, {node}]}}"
    lines.append("  " + node)
    (folder / "pack.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "firms.yaml").write_text("entities:\n  - {id: F1, name: 示例, a0: 是}\n", encoding="utf-8")
