"""A symlink link.json -> target/real.json (an old file); certify must write real.json and keep the link."""

from pathlib import Path


def generate(folder: Path) -> None:
    (folder / "target").mkdir(exist_ok=True)
    (folder / "target" / "real.json").write_text("old", encoding="utf-8")
    (folder / "link.json").symlink_to(folder / "target" / "real.json")
