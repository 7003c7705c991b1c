"""The decision log (issue 13): every decision handed out, kept append-only in a database.

engine.audit.log: `DecisionLog(url)` — SQLite by default (a file under the data folder, WAL mode),
PostgreSQL by URL — with `append` / `append_batch` for the web app and API, and `entries` for
`certify log`. engine.audit.replay: re-decide logged decisions and say which no longer reproduce.

Layer: above engine.report (it stores the records engine.evaluate makes), below engine.commands.
"""

from engine.audit.log import DecisionLog, Filter, LogEntry, LogError, default_url, inputs_by_id

__all__ = ["DecisionLog", "Filter", "LogEntry", "LogError", "default_url", "inputs_by_id"]
