"""Fakes of the format-2 builder's ParseContext and of an entity's Env, shared by the tests of the
value operations (tests/test_values.py) and of the points operations (tests/test_points.py).

They implement exactly the protocols of engine/compile/ops.py and engine/evaluate/ops.py, as the
format-2 builder does: names with a sort and a unit, amounts through engine.core.units, every
problem with its code (declared in CODES) and a message in both languages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from engine.core.problems import CODES
from engine.core.units import AmountError, Unit, parse_amount, parse_unit


class FakeContext:
    """Names: {name: (sort, unit or unit text or None)}; choices: {name: options} (each also a
    name of sort "choice"); members: {members input: its fields}; beside: the keys written next
    to the operation; declared: the unit the value declares."""

    def __init__(self, names: dict[str, tuple[str, Unit | str | None]] | None = None,
                 choices: dict[str, tuple[str, ...]] | None = None, *, declared: str | None = None,
                 members: dict[str, dict[str, Any]] | None = None, beside: dict[str, Any] | None = None,
                 option_specs: dict[tuple[str, str], Any] | None = None):
        self.names = dict(names or {})
        self.option_specs = dict(option_specs or {})  # (choice, option) -> the points: written on it
        self.unset_names: set[str] = set()  # parameters without a number
        self.declared = parse_unit(declared) if declared else None
        self.members = members or {}
        self.besides = beside or {}
        self.choices = dict(choices or {})
        for name in self.choices:
            self.names.setdefault(name, ("choice", None))
        self.problems: list[tuple[str, tuple[Any, ...], str, str]] = []

    def ref(self, raw: Any, path: tuple[Any, ...], *, sorts: tuple[str, ...] = ("number",)) -> str:
        if not isinstance(raw, str) or raw not in self.names:
            self.problem("E182", path, f"unknown name {raw!r}", f"未定义的名称 {raw!r}")
            return str(raw)
        if self.names[raw][0] not in sorts:
            self.problem("E183", path, f"{raw} is a {self.names[raw][0]}", f"{raw} 类型不符")
        return raw

    def amount(self, raw: Any, path: tuple[Any, ...], *, unit: Unit | None = None) -> Fraction:
        try:
            value, written = parse_amount(raw, unit)
        except AmountError as error:
            self.problem("E123", path, str(error), error.zh)
            return Fraction(0)
        if unit is not None and written.dimension != unit.dimension:
            self.problem("E184", path, f"{raw} is not in {unit.dimension}", f"{raw} 单位不符")
        return value

    def unit_of(self, name: str) -> Unit | None:
        unit = self.names.get(name, ("number", None))[1]
        return parse_unit(unit) if isinstance(unit, str) else unit

    def members_fields(self, name: str) -> dict[str, Any]:
        return self.members.get(name, {})

    def choice_options(self, name: str) -> tuple[str, ...]:
        return self.choices.get(name, ())

    def option_points(self, name: str, option: str) -> Any:
        return self.option_specs.get((name, option))

    def unset(self, name: str) -> bool:
        return name in self.unset_names

    def problem(self, code: str, path: tuple[Any, ...], en: str, zh: str) -> None:
        assert code in CODES, code
        assert en and zh
        self.problems.append((code, path, en, zh))

    def declared_unit(self) -> Unit | None:
        return self.declared

    def beside(self, key: str) -> Any:
        return self.besides.get(key)

    def codes(self) -> list[str]:
        return [p[0] for p in self.problems]


@dataclass
class FakeEnv:
    values: dict[str, Any] = field(default_factory=dict)
    as_of: dt.date = dt.date(2024, 6, 30)
    entity_id: str = "e1"

    def get(self, name: str) -> Any:
        return self.values.get(name)
