"""The only module that touches durable-rules.

durable-rules 2.0.28 is unmaintained and sharp (see shared/notes/durable-rules.md). This adapter
keeps every sharp edge here:

- its background dispatcher threads are never started (they segfault when sessions are deleted
  out of order, and can run actions after `assert_fact` has returned);
- the direct loop keeps one session per rule group for the life of the ruleset and holds at most
  one fact in it: each entity's fact is asserted, its rules fired, and the fact retracted before
  the next entity (one big session of many facts confuses distinct facts; one fact at a time
  cannot). Creating and deleting a session per entity cost about two thirds of a decision
  (issue 14). After each retraction nothing may be queued (checked for every entity; the tests
  also check that no fact is left); if anything goes wrong the session is retired (never
  deleted: durable segfaults deleting a session whose actions did not complete) and a fresh one
  is used from then on;
- the Host loop (kept as the yardstick of the direct one) still uses one session per entity,
  deleted as soon as its rules have fired (at most 1024 live sessions per ruleset);
- the ruleset it is given is copied (registration deletes the `run` keys);
- an exception inside an action is swallowed by durable and reported in the returned state:
  we check it after every call and raise `DecisionError`;
- actions do the least possible work — append the rule's name — because the Python side of each
  action is nearly all of durable's cost.

Two loops drive the same registered ruleset. `host` is durable's own Host action loop (a
Closure, two clock reads, a JSON round trip of the session state per action). `direct` (the
default) drives durable's C engine through the same calls the Host makes — assert the fact,
start the first action, complete it and start the next until none is left — but skips the
per-action Python bookkeeping: our actions never change the session state, so that work never
changes a result; then it retracts the fact instead of deleting the session. Measured on the
Huguan pack it is several times faster (bench/README.md), and tests/test_durable_adapter.py
demands identical fired rules from both.
"""

from __future__ import annotations

import copy
import itertools
import json
import warnings
from typing import Any

from engine.core.problems import DecisionError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import durable_rules_engine as _engine_c
    from durable import engine as _durable

DURABLE_VERSION = "2.0.28"
_names = itertools.count()


class _QuietHost(_durable.Host):
    """A Host without the background dispatcher; actions record the rule that fired."""

    def __init__(self, fired: list[str]):
        self._fired = fired
        super().__init__()

    def _run(self) -> None:  # no timers, no threads: decisions are synchronous
        return None

    def get_action(self, action_name: str) -> Any:
        fired = self._fired

        def record(c: Any) -> None:
            fired.append(action_name)

        return record


class DurableSession:
    """Decides entities with one compiled durable ruleset."""

    LOOPS = ("direct", "host")

    def __init__(self, ruleset: dict[str, Any], label: str = "pack", loop: str = "direct", groups: int = 1):
        if loop not in self.LOOPS:
            raise ValueError(f"loop must be one of {self.LOOPS}")
        self.loop = loop
        self.groups = groups
        self._fired: list[str] = []
        self._host = _QuietHost(self._fired)
        self._name = f"{label}-{next(_names)}"
        self._sids = itertools.count()
        try:
            self._host.set_rulesets({self._name: copy.deepcopy(ruleset)})
        except Exception as error:  # durable raises bare Exception with a numeric code
            raise DecisionError(f"durable-rules refused the compiled ruleset: {error}") from error
        self._handle = self._host.get_ruleset(self._name)._handle
        self._live = [f"s{next(self._sids)}.{group}" for group in range(groups)]  # the direct loop's sessions

    def decide(self, slots: dict[str, Any]) -> list[str]:
        """Assert one entity's fact per rule group; return the names of the rules that fired.

        A group is a slice of the criteria small enough for durable's activation queue (see
        compile.MAX_FIRINGS_PER_GROUP); each is decided in its own session. A rule compiled as
        the merge of several (its name theirs joined by "|", compile._combined) is returned as
        the rules it stands for: durable fired one rule, and its name says which of theirs held."""
        fired = self._decide(slots)
        if any("|" in name for name in fired):
            return [part for name in fired for part in name.split("|")]
        return fired

    def _decide(self, slots: dict[str, Any]) -> list[str]:
        fired: list[str] = []
        if self.loop == "direct":
            for group in range(self.groups):
                fact = dict(slots)
                fact["kind"] = "entity"
                fact["g"] = group
                fact["sid"] = self._live[group]
                fact["id"] = "entity"
                fired += self._decide_direct(fact, group)
            return fired
        entity = next(self._sids)
        for group in range(self.groups):
            sid = f"{entity}.{group}" if self.groups > 1 else str(entity)
            fact = dict(slots)
            fact["kind"] = "entity"
            fact["g"] = group
            fact["sid"] = sid
            fact["id"] = "entity"
            fired += self._decide_host(fact, sid)
        return fired

    def _retire(self, group: int) -> None:
        """Leave the group's session as it is (deleting it may segfault) and use a fresh one."""
        self._live[group] = f"s{next(self._sids)}.{group}"

    def _decide_direct(self, fact: dict[str, Any], group: int) -> list[str]:
        fired: list[str] = []
        handle = self._handle
        text = json.dumps(fact, ensure_ascii=False)
        try:
            result = _engine_c.assert_fact(handle, text)
        except Exception as error:  # the C engine reports parse and limit errors this way
            self._retire(group)
            raise DecisionError(f"durable-rules failed: {error}") from error
        # A fact that matched nothing is not stored: every compiled ruleset matches every fact, so
        # this only happens on an engine fault, which stops the run.
        if result[0] == 1:
            self._retire(group)
            raise DecisionError(f"no rule matched the entity's fact: {fact}")
        if result[0] == 2:
            self._retire(group)
            raise DecisionError(f"durable-rules saw this fact twice: {fact}")
        state_handle = 0 if result[0] == 3 else result[1]  # 3: deferred, as Host reads it
        try:
            started = _engine_c.start_action_for_state(handle, state_handle)
            if started:
                _state, message = started
                while message:
                    # The message is {"<rule name>": {...}}; rule names are ASCII identifiers
                    # we generated (compile.emit_ruleset), so the name ends at the next quote.
                    fired.append(message[2:message.index('"', 2)])
                    # durable's Host re-asserts the session state here (update_state) before
                    # completing the action. Our actions never change the state and no compiled
                    # rule matches on it (every pattern requires kind == "entity"), so that
                    # re-assertion cannot fire anything: skipping it saves ~12% of a decision.
                    # tests/test_durable_adapter.py holds this loop to the Host's fired rules.
                    message = _engine_c.complete_and_start_action(handle, state_handle)
            # The session is reused: the fact goes, and the retraction must leave nothing queued
            # (every compiled pattern is positive, so none can fire on a retraction; checked,
            # because an action left queued would run for the next entity).
            _engine_c.retract_fact(handle, text)
            left = _engine_c.start_action_for_state(handle, state_handle)
        except Exception as error:
            self._retire(group)
            raise DecisionError(f"durable-rules failed while firing rules: {error}") from error
        if left:
            self._retire(group)
            raise DecisionError(f"a rule fired when the entity's fact was retracted: {left}")
        return fired

    def _decide_host(self, fact: dict[str, Any], sid: str) -> list[str]:
        self._fired.clear()
        try:
            with warnings.catch_warnings():
                # 3.12+: durable calls datetime.utcfromtimestamp in every action.
                warnings.filterwarnings("ignore", message=".*utcfromtimestamp.*")
                state = self._host.assert_fact(self._name, fact)
        except _durable.MessageNotHandledException as error:
            raise DecisionError(f"no rule matched the entity's fact: {error}") from error
        except _durable.MessageObservedException as error:
            raise DecisionError(f"durable-rules saw this fact twice: {error}") from error
        except Exception as error:
            raise DecisionError(f"durable-rules failed: {error}") from error
        if isinstance(state, dict) and state.get("exception"):
            raise DecisionError(f"an action raised inside durable-rules: {state['exception']}")
        # Only a session whose actions all completed is deleted (see _decide_direct).
        self._host.delete_state(self._name, sid)
        return list(self._fired)
