"""A rules folder whose pack.yaml is a symlink to a credentials file outside the folder (made here:
the corpus runner copies folders without keeping symlinks)."""

import os
from pathlib import Path


def generate(folder: Path) -> None:
    (folder / "rules").mkdir(exist_ok=True)
    os.symlink(folder / "secret.txt", folder / "rules" / "pack.yaml")
