"""What it would take: the smallest changes to an entity's data that make it pass.

Works on the compiled pack (the criteria tree and each test's exact threshold) and the entity's
normalised values. For the root to be met, every node says which *requirements* on inputs would
make it met (or not met, for `not` and for the cases that must not apply): an interval for a
number, a set of allowed values for yes/no and enums. Requirements combine as the tree does —
all = every child's at once, any = one child's, cases = this case applies (the earlier ones do
not) and its `then` is met — and contradictory combinations drop out. Each combination is then
made concrete (the value nearest the current one that satisfies it), and the reference evaluator
(`engine.evaluate.reference.evaluate`) decides the changed entity: only changes that really make it pass
are suggested, the fewest changed inputs first, and no suggestion contains another.

Nothing here is specific to a policy: the pack's tree and thresholds are the only source. The
requirements and their search are engine.explain.requirements, and a suggestion's line is
engine.explain.whatif2's `describe`: format 2 uses them too (this module is format 1's).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from engine.compile.model import MET, PASS, CompiledPack, Node
from engine.evaluate.normalize import _derive
from engine.evaluate.reference import evaluate
from engine.explain.requirements import OneOf, Option, Range, Requirement, Search, concrete, input_text
from engine.explain.whatif2 import MAX_SUGGESTIONS, describe
from engine.core.units import format_amount, fraction_json


def _with_derived(pack: CompiledPack, values: dict[str, Any], fixed: set[str]) -> dict[str, Any]:
    out = dict(values)
    for name, spec in pack.inputs.items():
        if spec.derived is not None and name not in fixed:
            value, _ = _derive(spec, out)
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
    return out


def _json_value(spec: Any, value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    number = Fraction(value)
    return fraction_json(number / spec.unit.factor) if spec.unit is not None else fraction_json(number)


def _change(pack: CompiledPack, name: str, req: Requirement, before: Any, after: Any,
            readers: dict[str, list[str]]) -> dict[str, Any]:
    spec = pack.inputs[name]
    kind = "provide" if before is None else ("attest" if spec.type == "attestation" else "set")
    change: dict[str, Any] = {
        "input": name, "label": spec.label, "type": spec.type, "kind": kind,
        "from": _json_value(spec, before), "to": _json_value(spec, after),
        "from_text": {lang: input_text(spec, before, lang) for lang in ("zh", "en")},
        "to_text": {lang: input_text(spec, after, lang) for lang in ("zh", "en")},
        "criteria": readers.get(name, []),
    }
    if isinstance(req, Range) and spec.type != "date":
        if before is not None:
            delta = Fraction(after) - Fraction(before)
            change["kind"] = "increase" if delta > 0 else "decrease"
            sign = "+" if delta > 0 else "-"
            change["by"] = _json_value(spec, abs(delta))
            change["by_text"] = {lang: sign + format_amount(abs(delta), spec.unit, lang) for lang in ("zh", "en")}
        bound = req.lo if (req.lo is not None and (before is None or Fraction(before) < req.lo)) else req.hi
        if bound is not None:
            is_lo = bound is req.lo
            opened = req.lo_open if is_lo else req.hi_open
            symbol = (">" if opened else "≥") if is_lo else ("<" if opened else "≤")
            written = req.lo_text if is_lo else req.hi_text
            change["requirement_text"] = {lang: f"{symbol} {written or format_amount(bound, spec.unit, lang)}"
                                          for lang in ("zh", "en")}
    if spec.type == "enum" and before is not None:
        change["kind"] = "reclassify"
    return change


def _readers(pack: CompiledPack) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for node in pack.root.criteria():
        if node.test is not None:
            out.setdefault(node.test.input, []).append(node.id)
    return out


def _reads(node: Node) -> set[str]:
    return {n.test.input for n in node.walk() if n.test is not None}


def _unset_params(pack: CompiledPack) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for node in pack.root.walk():
        if node.test is not None and node.test.unset and node.test.param:
            p = pack.params[node.test.param]
            seen.setdefault(p.name, {"parameter": p.name, "label": p.label, "cite": p.cite,
                                     "why": p.unset_reason or "the policy sets no number"})
    return list(seen.values())


def what_it_takes(pack: CompiledPack, values: dict[str, Any], limit: int = MAX_SUGGESTIONS) -> dict[str, Any]:
    """Verified suggestions that make the entity pass, cheapest first (JSON-ready)."""
    search = Search(pack, values)
    candidates = search.options(pack.root, MET)
    readers = _readers(pack)
    titles = {n.id: n for n in pack.root.criteria()}
    verified: list[tuple[tuple[Any, ...], frozenset[str], dict[str, Any]]] = []
    for option in candidates:
        changed = {name: req for name, req in option.needs if not req.contains(values.get(name))}
        if not changed:
            continue  # already satisfied: nothing to suggest (the entity passes or is blocked elsewhere)
        new_values = dict(values)
        for name, req in changed.items():
            new_values[name] = concrete(pack.inputs[name], req, values.get(name))
        new_values = _with_derived(pack, new_values, set(changed))
        if evaluate(pack, new_values).outcome != PASS:
            continue
        keys = frozenset(changed)
        # The path is shown only where the choice involves a changed input.
        path_nodes = [titles[i] for i in option.via
                      if i in titles and any(r in keys for r in _reads(titles[i]))]
        path_ids = tuple(n.id for n in path_nodes)
        if any(prev_keys < keys or (prev_keys == keys and prev_path == path_ids)
               for _, prev_keys, prev_path, _ in verified):
            continue  # a suggestion with fewer changes (or the same ones) already covers this one
        verified = [v for v in verified if not keys < v[1]]
        entry = {
            "changes": [_change(pack, n, r, values.get(n), new_values[n], readers) for n, r in sorted(changed.items())],
            "via": [{"id": n.id, "title": n.title, "cite": n.cite, "discretionary": n.discretionary is not None}
                    for n in path_nodes],
            "discretionary": any(n.discretionary is not None for n in path_nodes),
            "verified_by": "reference evaluator",
        }
        reclassify = sum(1 for c in entry["changes"] if c["kind"] == "reclassify")
        rank = (len(changed), reclassify, entry["discretionary"], len(verified))
        verified.append((rank, keys, path_ids, entry))
    verified.sort(key=lambda v: v[0])
    result: dict[str, Any] = {"options": [v[3] for v in verified[:limit]]}
    if len(verified) > limit:
        result["more"] = len(verified) - limit
    if not verified:
        blocked = _unset_params(pack)
        result["blocked_by"] = blocked
        result["note"] = {"zh": "没有只改数据就能通过的办法", "en": "no change to the data alone makes it pass"}
    return result


__all__ = ["what_it_takes", "describe", "Range", "OneOf", "Option"]
