"""The registry of format-2 value operations: how each is read from a pack (this module) and
how it is computed (`engine.evaluate.ops`).

A value in a pack is one operation (`ratio: {of: a, per: b}`, `bands: {...}`). Each operation
registers a parser here with `@op("ratio")`; the parser turns the YAML into a frozen dataclass
of typed arguments (names already checked, amounts already exact) and reports problems through
the `ParseContext` it is given. Computing lives in the evaluate stage, keyed by the same name,
so the compile stage never imports the evaluate stage. docs/format2.md lists every operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Protocol

from engine.core.units import Unit

Path = tuple[Any, ...]  # the place in the pack document, for file:line:col in problems


class OpArgs(Protocol):
    """The parsed arguments of one operation. Frozen dataclass, one class per operation."""

    def reads(self) -> tuple[str, ...]:
        """Every name (input, parameter, choice, value, criterion) the operation reads: the
        dependency graph and the cycle check are built from these."""
        ...


class ParseContext(Protocol):
    """What a parser may ask of the pack being compiled. Implemented by the format-2 builder."""

    def ref(self, raw: Any, path: Path, *, sorts: tuple[str, ...] = ("number",)) -> str:
        """A reference to a name. `sorts` are what may be read here: "number" (numeric input,
        numeric value, points), "enum", "boolean", "date", "members", "criterion", "choice",
        "param". Reports E182 (unknown name, with did-you-mean) or E183 (wrong sort) and returns
        the name anyway so parsing can go on and find more problems."""
        ...

    def amount(self, raw: Any, path: Path, *, unit: Unit | None = None) -> Fraction:
        """An exact amount as an officer writes it ("30万元", "70%", 0.5, "1万平方米"), in the base
        unit of its dimension; `unit` is the unit a bare number is in. Reports E123 / E122 / E140."""
        ...

    def unit_of(self, name: str) -> Unit | None:
        """The declared unit of a numeric name (None for counts without a unit)."""
        ...

    def members_fields(self, name: str) -> dict[str, Any]:
        """The field specs (InputSpec) of a `members` input, for member conditions."""
        ...

    def choice_options(self, name: str) -> tuple[str, ...]:
        """The options of a choice (for an operation option written `{choice: NAME}`)."""
        ...

    def unset(self, name: str) -> bool:
        """Whether `name` is a parameter the policy leaves without a number on the as-of date
        (`unset:`, or no dated value in force yet): it has no unit to check against, and what
        reads it is unknown."""
        ...

    def option_points(self, name: str, option: str) -> Any:
        """The `points:` written on an option of a choice (None when not written)."""
        ...

    def problem(self, code: str, path: Path, en: str, zh: str) -> None:
        """Report a problem at `path` (codes: see CODES in engine.core.problems)."""
        ...

    def declared_unit(self) -> Unit | None:
        """The `unit:` written beside the operation in the value being parsed (None when it
        declares none). A ratio is a percent (×100) only when the value declares `unit: "%"`,
        and parsers check the dimension they compute against it (E184)."""
        ...

    def beside(self, key: str) -> Any:
        """A key written beside the operation in the same value, such as `otherwise:` beside
        `cases:` (as format 1 writes it in criteria); None when absent. Only the keys the
        operation lists in `OpDef.beside` are asked for, and the schema allows exactly those."""
        ...


@dataclass(frozen=True)
class OpDef:
    key: str  # the YAML key: "ratio", "bands", ...
    parse: Callable[[Any, ParseContext, Path], OpArgs]
    cohort: bool = False  # needs every entity of the batch (rank, rank_points, cohort_mean)
    points: bool = False  # a points rule (unit 分)
    beside: tuple[str, ...] = ()  # keys of the value that belong to this operation (`otherwise`)


OPS: dict[str, OpDef] = {}


def op(key: str, *, cohort: bool = False, points: bool = False,
       beside: tuple[str, ...] = ()) -> Callable[[Callable[..., OpArgs]], Callable[..., OpArgs]]:
    """Register the parser of one operation. The parser is called as `parse(body, ctx, path)`:
    `body` is what is written under the operation's key, `path` ends with that key."""

    def register(parse: Callable[..., OpArgs]) -> Callable[..., OpArgs]:
        if key in OPS:
            raise ValueError(f"operation {key!r} registered twice")
        OPS[key] = OpDef(key, parse, cohort, points, beside)
        return parse

    return register
