"""The words of a decision, typed: a criterion's status and an entity's outcome.

Both are `str` enums so that a record written as JSON, and older code comparing with "met",
keep working while stages move to the typed form.
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"  # format 2: `applies_when` false, or a target not yet due

    def __str__(self) -> str:  # "met", not "Status.MET", wherever a status is formatted
        return self.value


class Outcome(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    UNDETERMINED = "undetermined"

    def __str__(self) -> str:
        return self.value


OUTCOME_OF_STATUS = {Status.MET: Outcome.PASS, Status.NOT_MET: Outcome.FAIL, Status.UNKNOWN: Outcome.UNDETERMINED}
