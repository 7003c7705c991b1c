"""1,000 towns, each a copy of HG01 (a town that passes) with its own id; row 3 starts with a
stray quote. Before, the quote swallowed the 998 rows after it into one name, silently."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def generate(folder: Path) -> None:
    lines = (ROOT / "fixtures" / "huguan-towns.csv").read_text(encoding="utf-8").splitlines()
    header, row = lines[0], lines[1]
    rest = row.split(",", 1)[1]
    rows = [f"T{i:04d},{rest}" for i in range(1, 1001)]
    rows[2] = '"' + rows[2]
    (folder / "towns.csv").write_text("\n".join([header] + rows) + "\n", encoding="utf-8")
