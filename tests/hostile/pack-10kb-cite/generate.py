"""The minimal valid pack with a 10 kB citation on one criterion."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def generate(folder: Path) -> None:
    text = (ROOT / "tests" / "packs" / "valid" / "minimal.yaml").read_text(encoding="utf-8")
    cite = "二" * 10_000
    assert "cite: 二(二)\n" in text
    (folder / "pack.yaml").write_text(text.replace("cite: 二(二)\n", f"cite: {cite}\n", 1), encoding="utf-8")
