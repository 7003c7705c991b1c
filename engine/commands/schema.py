"""`certify schema`: the JSON Schema of the rule pack format (for editors and CI).

Format 1's schema is the file `engine/validate/schema/rulepack.schema.json` that validation reads.
Format 2's (`--pack-format 2`, written to `engine/validate/schema/rulepack2.schema.json` for
editors) is the schema `certify validate` checks format-2 packs with (engine.validate.format2
`schema2`), with what an editor also needs to know: a value is exactly one operation of the
registry (engine.compile.ops `OPS`, with the keys each takes beside it, `otherwise:` beside
`cases:`), so an editor completes the operation names and flags a misspelt one. What is inside an
operation is checked by its parser (`certify validate`), as the values' problems are.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import engine.compile.build2  # noqa: F401  (fills OPS with every operation)
from engine.commands.common import EXIT
from engine.compile.ops import OPS
from engine.core.files import check_output, open_output
from engine.validate.format2 import schema2
from engine.validate.validate import schema as pack_schema

# What each operation reads, as docs/format2.md ("Values") writes it: shown by editors on hover.
_FORMS = {
    "ratio": "{of: a, per: b}: a ÷ b (unit % when unit: \"%\")",
    "sum": "[a, b, ...]: a + b + …", "difference": "{of: a, minus: b}: a − b",
    "product": "{of: a, by: 70% | param}: a × constant", "min": "[a, b, ...]: the smaller",
    "max": "[a, b, ...]: the larger", "best_of": "[a, b, ...]: the better of alternatives the policy names",
    "mean": "[a_2021, a_2022]: arithmetic mean", "growth": "{from: a_2021, to: a_2022}: growth in %",
    "cagr": "{from: a_2019, to: a_2022, years: 3}: compound annual growth in %",
    "count": "{members: firms, where: COND}: members meeting COND",
    "total": "{members: projects, field: investment, where: COND}: a field added up over members meeting COND",
    "share": "{members: firms, where: COND}: members meeting COND ÷ members, in %",
    "cohort_mean": "{of: a, within: zone_type}: mean over the entities of the batch",
    "days_since": "{date: d}: whole days to as_of", "years_since": "{date: d}: whole years to as_of",
    "cases": "[{when: COND, then: NAME | amount}, ...] with otherwise: beside it: the first case that holds",
    "bands": "{of: a, bands: [{at_least: 30%, points: 20}, ...]}: points by band",
    "map": "{of: enum, points: {option: 30, ...}, otherwise: 0} or {highest: [{when: COND, points: 30}, ...]}",
    "per_unit": "{of: a, per: 1万平方米, points: 1, cap: 10, steps: whole | proportional}",
    "items": "{items: [{of: new_listed_firms, points: 3}, ...], cap: 10, missing: zero}",
    "rank_points": "{of: a, within: g, order: higher_first, full: 10, step: 0.5, floor: 0, ties: shared}",
    "baseline_step": "{of: a, baseline: 100万元, points: 5, above: {per: 30万元, points: 1}, steps: whole}",
    "deductions": "{start: 10, per_event: {of: events, points: 3}, floor: 0}",
    "weighted": "[{of: a, weight: 60%}, {of: b, weight: 40%}]", "group": "{of: [a, b, c], cap: 30, minimum: param}",
    "rank": "{of: total, within: g, order: higher_first, tie_break: [...], ties: shared, last: criterion}",
    "placed_last": "place (a rank value): yes when the entity is placed last",
}


def pack_schema2() -> dict[str, Any]:
    """The editor schema of a format-2 pack."""
    out = copy.deepcopy(schema2())
    out["$id"] = "https://certify.invalid/rulepack2.schema.json"
    value = out["$defs"]["value"]
    # the engine's operations (a test may register one of its own: it is no part of the format)
    ops = {k: d for k, d in sorted(OPS.items()) if d.parse.__module__.startswith("engine.")}
    besides = sorted({b for d in ops.values() for b in d.beside})
    for key in ops:
        value["properties"][key] = {"description": f"operation {key}: {_FORMS.get(key, 'docs/format2.md')}"}
    for key in besides:
        value["properties"][key] = {"description": f"written beside {', '.join(k for k, d in ops.items() if key in d.beside)}"}
    value["additionalProperties"] = False
    value["oneOf"] = [{"required": [key]} for key in ops]  # exactly one operation
    # A variant (`pack.extends`) is checked once merged with its template: alone, it may leave out
    # what the template gives (inputs, the entity).
    extends = {"properties": {"pack": {"required": ["extends"]}}, "required": ["pack"]}
    out["required"] = [k for k in out["required"] if k != "inputs"]
    out["if"], out["else"] = extends, {"required": ["inputs"]}
    pack = out["$defs"]["pack"]
    pack["required"] = [k for k in pack["required"] if k != "entity"]
    pack["if"], pack["then"] = {"not": {"required": ["extends"]}}, {"required": ["entity"]}
    return out


def run_schema(output: str | None, pack_format: int = 1) -> int:
    check_output(output)
    with open_output(output) as out:
        out.write(json.dumps(pack_schema() if pack_format == 1 else pack_schema2(), ensure_ascii=False, indent=2) + "\n")
    return EXIT["ok"]
