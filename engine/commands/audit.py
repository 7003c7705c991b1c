"""`certify log` (list and filter the decision log) and `certify replay` (decide logged decisions
again; exit 1 when any no longer reproduces or cannot be replayed).

Both read the log at --db (default: $CERTIFY_LOG_URL, else data/decisions.sqlite under --data-dir,
$CERTIFY_DATA or ./data). A filter that cannot be read is E244 (exit 2); a log that cannot be
opened is E240/E241 (exit 2): the problem is printed, never a driver's traceback.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, TextIO

from engine import ENGINE_VERSION
from engine.audit.log import DecisionLog, Filter, LogEntry, LogError, default_url
from engine.audit.replay import replay
from engine.commands.common import EXIT
from engine.core.problems import Problem, shown

OUTCOMES = ("pass", "fail", "undetermined")
OUTCOME_ZH = {"pass": "通过", "fail": "不通过", "undetermined": "待定", None: "-"}
LOG_SCHEMA = "certify.log/1"
REPLAY_SCHEMA = "certify.replay/1"


class FilterError(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def _bad(option: str, value: str, en: str, zh: str) -> FilterError:
    return FilterError(Problem(option, 1, 1, "E244", f"{option} {shown(value)}: {en}",
                               message_zh=f"{option} {shown(value)}：{zh}"))


def _date(option: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _bad(option, value, "not a date; write it as 2024-06-30", "不是日期；请写成 2024-06-30")


def _moment(option: str, value: str | None) -> dt.datetime | None:
    """A date (its midnight) or an ISO date-time; without a zone it is UTC, as the log keeps time."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(option, value, "not a date or time; write 2024-06-30 or 2024-06-30T08:00+08:00",
                   "不是日期或时间；请写成 2024-06-30 或 2024-06-30T08:00+08:00")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Selection:
    """The filters both commands take, as given on the command line."""

    pack: str | None = None
    entity: str | None = None
    outcome: str | None = None
    who: str | None = None
    as_of: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int | None = None

    def filter(self) -> Filter:
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise _bad("--outcome", self.outcome, "is one of pass, fail, undetermined", "应为 pass、fail 或 undetermined")
        if self.limit is not None and self.limit < 1:
            raise _bad("--limit", str(self.limit), "is a whole number from 1", "应为不小于 1 的整数")
        return Filter(pack_id=self.pack, entity_id=self.entity, outcome=self.outcome, who=self.who,
                      as_of=_date("--as-of", self.as_of), since=_moment("--since", self.since),
                      until=_moment("--until", self.until))


def _open(db: str | None, data_dir: str | None) -> DecisionLog:
    return DecisionLog(db or default_url(data_dir))


def _newest(log: DecisionLog, where: Filter, limit: int | None) -> list[LogEntry]:
    """The entries in log order; with a limit, the newest `limit` of them."""
    if limit is None:
        return log.entries(where)
    return log.entries(where, limit=limit, newest_first=True)[::-1]


def run_log(db: str | None, data_dir: str | None, selection: Selection, fmt: str, records: bool, lang: str,
            out: TextIO, err: TextIO) -> int:
    try:
        where = selection.filter()
        with _open(db, data_dir) as log:
            entries = _newest(log, where, selection.limit)
            total = log.count(where)
    except (FilterError, LogError) as error:
        err.write(error.problem.format(lang) + "\n")
        return EXIT["usage"]
    if fmt == "json":
        items = []
        for e in entries:
            item = e.summary()
            if records:
                item["record"], item["input"] = e.record, e.input
            items.append(item)
        json.dump({"schema": LOG_SCHEMA, "entries": items, "shown": len(items), "matching": total}, out,
                  ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        for e in entries:
            outcome = OUTCOME_ZH.get(e.outcome, e.outcome) if lang == "zh" else (e.outcome or "-")
            name = f" {e.entity_name}" if e.entity_name else ""
            out.write(f"{e.id}\t{e.logged_at.strftime('%Y-%m-%d %H:%M:%S')}Z\t{e.who}\t{e.pack_id} {e.pack_version}\t"
                      f"{e.as_of.isoformat()}\t{e.entity_id}{name}\t{outcome}\n")
        err.write(f"显示 {len(entries)} 条判定（共 {total} 条符合条件）\n" if lang == "zh" else
                  f"{len(entries)} decision(s) shown ({total} matching)\n")
    return EXIT["ok"]


def run_replay(db: str | None, data_dir: str | None, selection: Selection, fmt: str, lang: str,
               out: TextIO, err: TextIO) -> int:
    try:
        where = selection.filter()
        with _open(db, data_dir) as log:
            summary = replay(log, where, None) if selection.limit is None else _replay_newest(log, where, selection.limit)
    except (FilterError, LogError) as error:
        err.write(error.problem.format(lang) + "\n")
        return EXIT["usage"]
    if fmt == "json":
        json.dump({"schema": REPLAY_SCHEMA, "engine_version": ENGINE_VERSION,
                   "counts": {"replayed": summary.total, "reproduced": summary.reproduced, "differs": summary.differs,
                              "cannot": summary.cannot, "other_engine_version": summary.other_engine_version},
                   "results": [r.as_dict() for r in summary.results]}, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        for result in summary.results:
            if result.problem is not None:
                out.write(result.problem.format(lang) + "\n")
        err.write(summary.line(lang) + "\n")
    return EXIT["ok"] if summary.differs == summary.cannot == 0 else EXIT["problems"]


def _replay_newest(log: DecisionLog, where: Filter, limit: int) -> Any:
    newest = _newest(log, where, limit)
    ids = tuple(e.id for e in newest)
    return replay(log, Filter(ids=ids))
