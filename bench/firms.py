"""Synthetic firms for the D pack (rules/tech-sme-evaluation.yaml, 科技型中小企业评价), seeded, written
as CSV (text cells, as a tax or statistics export would have them) and as Parquet (typed columns: int64
counts, float64 amounts in 万元, booleans, dates), the same firms in both.

SYNTHETIC DATA: every firm, amount and date is invented. About a third pass on points, a few through a
direct confirmation (第八条), some fail a size limit, some are undetermined (an attestation or a
figure left out); amounts sit on band edges now and then (6% R&D over sales, 30% staff share).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = ["id", "name", "resident_enterprise", "total_staff", "tech_staff", "sales_revenue", "total_assets",
           "total_costs", "rd_expense", "products_permitted", "no_major_accident", "no_serious_breach", "not_listed",
           "i_class_ip", "ii_class_ip", "has_hte_certificate", "hte_valid_from", "hte_valid_until",
           "has_national_award", "national_award_date", "national_award_place", "has_provincial_rd_institution",
           "has_led_standard", "led_standard_date"]
ATTESTATIONS = {"resident_enterprise", "products_permitted", "no_major_accident", "no_serious_breach", "not_listed",
                "has_provincial_rd_institution"}
BOOLEANS = {"has_hte_certificate", "has_national_award", "has_led_standard"}
COUNTS = {"total_staff", "tech_staff", "i_class_ip", "ii_class_ip", "national_award_place"}
AMOUNTS = {"sales_revenue", "total_assets", "total_costs", "rd_expense"}  # 万元
DATES = {"hte_valid_from", "hte_valid_until", "national_award_date", "led_standard_date"}
AS_OF = dt.date(2024, 6, 30)


def _wan(rng: random.Random, lo: float, hi: float) -> float:
    """An amount in 万元 with at most two decimals (a float that prints as written)."""
    return round(rng.uniform(lo, hi), rng.choice((0, 0, 1, 2)))


def firm(rng: random.Random, index: int) -> dict[str, Any]:
    """One firm as typed values (None: not given)."""
    staff = rng.choice((rng.randint(5, 120), rng.randint(50, 500), rng.randint(480, 620)))
    share = rng.choice((0.05, 0.1, 0.15, 0.2, 0.25, 0.3, rng.uniform(0, 0.6)))
    sales = _wan(rng, 50, 26000)
    costs = round(sales * rng.uniform(0.6, 1.1), 2)
    rd_share = rng.choice((0.02, 0.03, 0.04, 0.05, 0.06, rng.uniform(0, 0.12)))
    row: dict[str, Any] = {
        "id": f"F{index:07d}", "name": f"合成企业{index}",
        "total_staff": staff, "tech_staff": int(staff * share),
        "sales_revenue": sales, "total_assets": _wan(rng, 100, 24000), "total_costs": costs,
        "rd_expense": round(sales * rd_share, 2),
        "i_class_ip": rng.choice((0, 0, 0, 1, 2)), "ii_class_ip": rng.choice((0, 1, 2, 3, 4, 6)),
    }
    for name in ATTESTATIONS:
        row[name] = rng.random() > 0.04
    row["has_provincial_rd_institution"] = rng.random() < 0.08
    row["has_hte_certificate"] = rng.random() < 0.1
    if row["has_hte_certificate"]:
        start = AS_OF - dt.timedelta(days=rng.randint(0, 1500))
        row["hte_valid_from"], row["hte_valid_until"] = start, start + dt.timedelta(days=3 * 365)
    row["has_national_award"] = rng.random() < 0.03
    if row["has_national_award"]:
        row["national_award_date"] = AS_OF - dt.timedelta(days=rng.randint(0, 2500))
        row["national_award_place"] = rng.randint(1, 5)
    row["has_led_standard"] = rng.random() < 0.05
    if row["has_led_standard"]:
        row["led_standard_date"] = AS_OF - dt.timedelta(days=rng.randint(0, 2500))
    if rng.random() < 0.08:  # a figure or an attestation left out: some of these stay undetermined
        row[rng.choice(("rd_expense", "total_costs", "not_listed", "tech_staff", "no_major_accident"))] = None
    return row


def firms(n: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for index in range(1, n + 1):
        yield firm(rng, index)


def text_cell(name: str, value: Any) -> str:
    """A value as a CSV export writes it: amounts as bare 万元 numbers, yes/no as 是/否, ISO dates."""
    if value is None:
        return ""
    if name in ATTESTATIONS or name in BOOLEANS:
        return "是" if value else "否"
    if isinstance(value, float):
        return repr(value).removesuffix(".0")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_csv(path: Path, n: int, seed: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row in firms(n, seed):
            writer.writerow([text_cell(c, row.get(c)) for c in COLUMNS])


def write_parquet(path: Path, n: int, seed: int, row_group: int = 65_536) -> None:
    def kind(name: str) -> Any:
        if name in COUNTS:
            return pa.int64()
        if name in AMOUNTS:
            return pa.float64()
        if name in ATTESTATIONS or name in BOOLEANS:
            return pa.bool_()
        if name in DATES:
            return pa.date32()
        return pa.string()

    schema = pa.schema([pa.field(c, kind(c)) for c in COLUMNS])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        batch: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        for row in firms(n, seed):
            for c in COLUMNS:
                batch[c].append(row.get(c))
            if len(batch["id"]) >= row_group:
                writer.write_table(pa.table(batch, schema=schema))
                batch = {c: [] for c in COLUMNS}
        if batch["id"]:
            writer.write_table(pa.table(batch, schema=schema))
