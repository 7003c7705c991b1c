"""Writes pack.yaml (about 6 kB): an `all` of 4 `any` groups of 10 attested criteria each, and one
firm. Its "met" alone is 10^4 conjunctions once expanded."""

from pathlib import Path

GROUPS, WIDTH = 4, 10


def generate(folder: Path) -> None:
    n = GROUPS * WIDTH
    lines = [
        "format: 1",
        "pack: {id: product, version: '1.0.0', kind: eligibility, entity: firm,",
        "       title: {zh: 组合规则包, en: product pack}, source: {title: 生成, seed: generated.txt}}",
        "inputs:",
    ]
    lines += [f"  a{i}: {{type: attestation, label: {{zh: 证明{i}}}}}" for i in range(n)]
    lines += ["parameters: {}", "criteria:", "  id: root", "  cite: 一", "  all:"]
    for g in range(GROUPS):
        lines += [f"    - id: g{g}", "      cite: 一", "      any:"]
        lines += [f"        - {{id: c{i}, cite: 一, test: {{attested: a{i}}}}}" for i in range(g * WIDTH, (g + 1) * WIDTH)]
    (folder / "pack.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "firms.yaml").write_text("entities:\n  - {id: F1, name: 示例, a0: 是}\n", encoding="utf-8")
