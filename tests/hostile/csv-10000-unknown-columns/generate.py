"""500 towns × 10,000 columns, 9,997 of them unknown to the pack. Before, every unknown cell
became a per-row warning with its did-you-mean: 5 million problems, 1.8 GB of memory."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
COLUMNS = 10_000  # the CSV column limit (engine.load.data.MAX_CSV_COLUMNS), all of it used


def generate(folder: Path) -> None:
    unknown = COLUMNS - 3
    header = ",".join(["id", "name", "lead_output"] + [f"extra_{i}" for i in range(unknown)])
    cells = ",".join(str(i % 997) for i in range(unknown))
    with open(folder / "towns.csv", "w", encoding="utf-8") as out:
        out.write(header + "\n")
        for row in range(500):
            out.write(f"T{row:03d},镇{row},12亿元,{cells}\n")
