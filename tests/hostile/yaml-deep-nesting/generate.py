"""Write 100,000-deep nesting in the three shapes YAML allows: flow brackets, flow mappings and
compact block entries (`- - - …`), as a pack and as data files."""

from pathlib import Path

DEPTH = 100_000


def generate(folder: str) -> None:
    out = Path(folder)
    (out / "flow.yaml").write_text("x: " + "[" * DEPTH + "1" + "]" * DEPTH + "\n", encoding="utf-8")
    (out / "towns.yaml").write_text("{a: " * DEPTH + "1" + "}" * DEPTH + "\n", encoding="utf-8")
    (out / "block.yaml").write_text("- " * DEPTH + "x\n", encoding="utf-8")
