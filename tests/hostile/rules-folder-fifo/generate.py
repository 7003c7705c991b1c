"""A rules folder with a valid pack and a FIFO named x.yaml (opening it would block forever)."""

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def generate(folder: Path) -> None:
    (folder / "rules").mkdir(exist_ok=True)
    shutil.copy(ROOT / "tests" / "packs" / "valid" / "minimal.yaml", folder / "rules" / "minimal.yaml")
    os.mkfifo(folder / "rules" / "x.yaml")
