"""The only module that touches durable-rules.

durable-rules 2.0.28 is unmaintained and sharp (see shared/notes/durable-rules.md). This adapter
keeps every sharp edge here:

- its background dispatcher threads are never started (they segfault when sessions are deleted
  out of order, and can run actions after `assert_fact` has returned);
- one session per entity, deleted in a `finally` (at most 1024 live sessions per ruleset, and one
  big session confuses distinct facts);
- the ruleset it is given is copied (registration deletes the `run` keys);
- an exception inside an action is swallowed by durable and reported in the returned state:
  we check it after every call and raise `DecisionError`;
- actions do the least possible work — append the rule's name — because the Python side of each
  action is nearly all of durable's cost.
"""

from __future__ import annotations

import copy
import itertools
import warnings
from typing import Any

from .problems import DecisionError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
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

    def __init__(self, ruleset: dict[str, Any], label: str = "pack"):
        self._fired: list[str] = []
        self._host = _QuietHost(self._fired)
        self._name = f"{label}-{next(_names)}"
        self._sids = itertools.count()
        try:
            self._host.set_rulesets({self._name: copy.deepcopy(ruleset)})
        except Exception as error:  # durable raises bare Exception with a numeric code
            raise DecisionError(f"durable-rules refused the compiled ruleset: {error}") from error

    def decide(self, slots: dict[str, Any]) -> list[str]:
        """Assert one entity's fact; return the names of the rules that fired, in order."""
        sid = str(next(self._sids))
        fact = dict(slots)
        fact["kind"] = "entity"
        fact["sid"] = sid
        fact["id"] = "entity"
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
        finally:
            try:
                self._host.delete_state(self._name, sid)
            except Exception:  # noqa: BLE001 - a session that never started has nothing to delete
                pass
        if isinstance(state, dict) and state.get("exception"):
            raise DecisionError(f"an action raised inside durable-rules: {state['exception']}")
        return list(self._fired)
