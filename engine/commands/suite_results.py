"""What running a pack's test suite found: one record per case and one per suite file.

Filled by engine.commands.packtest (cases) and engine.commands.scoring_suite (cohorts); shown by
engine.commands.suite_views (text, JSON, JUnit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.core.problems import Problem


@dataclass
class CaseResult:
    suite: str
    name: str
    source: str
    passed: bool
    diffs: list[str] = field(default_factory=list)
    outcome: str | None = None
    time: float = 0.0  # seconds spent deciding this case (JUnit `time`)


@dataclass
class SuiteResult:
    file: str
    pack_id: str | None = None
    cases: list[CaseResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    coverage: dict[str, set[str]] = field(default_factory=dict)  # criterion or flag id -> statuses seen
    coverage_ids: list[str] = field(default_factory=list)
    time: float = 0.0  # seconds for the whole suite, loading included (JUnit `time`)
