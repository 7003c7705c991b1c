"""EXPERIMENT, not used by the engine: how much of a durable decision is durable's Python action loop?

Decides the same facts twice with one compiled Huguan ruleset:
  (a) engine.evaluate.durable_adapter.DurableSession.decide (what the engine does today), and
  (b) a minimal loop straight over durable's C module (assert_fact, start_action_for_state,
      update_state with the unchanged state text, complete_and_start_action, delete_state),
      reading each fired rule's name from the message text instead of json.loads.
It checks that both give identical fired-rule lists for every town, then prints µs per entity.

    .venv/bin/python bench/proto_direct_loop.py [towns.csv]     # default bench/out/towns-10000.csv

(b) skips what durable's Host does around each action: Closure objects, two clock reads, a
json.dumps of the state and a json.loads of the next message. Our actions only append the rule
name and never change the state, so none of that changes the result. A real adapter would also
keep the error handling: result codes 1 and 2 of assert_fact (not handled / already observed),
and delete_state in a `finally` block.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.load.data import load_entities  # noqa: E402
from engine.evaluate.durable_adapter import DurableSession  # noqa: E402
from engine.evaluate.facts import fact_slots  # noqa: E402
from engine.evaluate.pipeline import load_pack  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import durable_rules_engine as C  # noqa: E402


def main() -> None:
    csv_path = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "bench" / "out" / "towns-10000.csv")
    from engine.evaluate.normalize import normalise

    pack, _ = load_pack(str(ROOT / "tests" / "format1" / "rules" / "huguan-specialized-town.yaml"), dt.date(2024, 6, 30))
    slots = [fact_slots(pack, normalise(pack, e).values) for e in load_entities(csv_path, [])]

    session = DurableSession(pack.ruleset, "adapter")
    started = time.perf_counter()
    want = [session.decide(s) for s in slots]
    adapter_s = time.perf_counter() - started

    direct = DurableSession(pack.ruleset, "direct")  # only used to register the ruleset
    handle = direct._host.get_ruleset(direct._name)._handle
    dumps = json.dumps

    def decide(s: dict, sid: str) -> list[str]:
        fact = dict(s)
        fact["kind"], fact["sid"], fact["id"] = "entity", sid, "entity"
        fired: list[str] = []
        try:
            result = C.assert_fact(handle, dumps(fact, ensure_ascii=False))
            if result[0] in (1, 2):
                raise RuntimeError(f"assert_fact result code {result[0]}")
            started = C.start_action_for_state(handle, result[1])
            if started:
                state, message = started
                while message:
                    fired.append(message[2:message.index('"', 2)])  # '{"<rule name>": {...}}'
                    C.update_state(handle, state)
                    message = C.complete_and_start_action(handle, result[1])
        finally:
            C.delete_state(handle, sid)
        return fired

    started = time.perf_counter()
    got = [decide(s, str(i)) for i, s in enumerate(slots)]
    direct_s = time.perf_counter() - started

    n = len(slots)
    print(f"{n} towns; identical fired-rule lists: {got == want}")
    print(f"DurableSession.decide: {1e6 * adapter_s / n:.1f} µs/entity ({n / adapter_s:,.0f}/s)")
    print(f"direct C loop:         {1e6 * direct_s / n:.1f} µs/entity ({n / direct_s:,.0f}/s)")


if __name__ == "__main__":
    main()
