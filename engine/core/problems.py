"""Problems found in rule packs and data files, as data.

Every problem carries a stable code, where it is (file, line, column, and the path inside the
document) and a message that says what was expected. Stages collect problems instead of
stopping at the first, so an officer fixes a file in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

ERROR = "error"
WARNING = "warning"
SEVERITY_ZH = {"error": "错误", "warning": "警告", "note": "提示", "ignored": "已忽略"}

# Kinds and dimensions in Chinese messages (officers do not read `money` or `enum`).
KIND_ZH = {"money": "金额", "count": "数量", "percent": "百分比", "area": "面积", "date": "日期", "enum": "枚举（选项）",
           "boolean": "是/否", "attestation": "承诺/证明", "text": "文字", "members": "成员列表", "derived": "派生值",
           "ratio": "比值", "points": "分值", "None": "未知"}


def kind_zh(kind: object) -> str:
    return KIND_ZH.get(str(kind), str(kind))

# Messages quote what they found, but never more than this many characters of it: a pack that is a
# symlink to a credentials file must not print the file into a CI log.
MAX_QUOTED = 40


def shown(value: object, limit: int = MAX_QUOTED) -> str:
    """A short, bounded quotation of a value for a message: repr of its first `limit` characters,
    with how much was left out. Use this, never an f-string of the raw value, for anything read
    from a pack or data file."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return repr(text) if isinstance(value, str) else text
    return f"{text[:limit]!r}… ({len(text)} chars)"



def plain(value: object, limit: int = MAX_QUOTED) -> str:
    """A value for a message without quotes when it is short (an amount such as 10亿元, a file
    name), else `shown(value)`: bounded all the same."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else shown(value, limit)


def clip(text: object, limit: int = 160) -> str:
    """A message from elsewhere (an exception's text, which may quote a whole value), cut short."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


# Stable codes: CI scripts and the broken-pack tests depend on them, so never renumber.
CODES: dict[str, str] = {
    "E100": "file cannot be read (missing, empty, too large or not UTF-8)",
    "E101": "YAML syntax error",
    "E102": "duplicate key in a mapping",
    "E103": "YAML feature refused (alias bomb, deep nesting, custom tag)",
    "E110": "schema violation: unknown field",
    "E111": "schema violation: required field missing",
    "E112": "schema violation: wrong type or value",
    "E120": "unknown reference (input, parameter or derived value)",
    "E121": "duplicate criterion id",
    "E122": "unit mismatch",
    "E123": "unparseable amount",
    "E124": "operator not allowed for this input type",
    "E125": "enum value not declared",
    "E126": "expression too large for the engine",
    "E130": "data: unknown field",
    "E131": "data: wrong type or unit",
    "E132": "data: duplicate entity id",
    "E133": "data: file has no entities",
    "E134": "data: a CSV quote runs past the end of its line (stray quote); that row is skipped",
    "E135": "data: duplicate column header or duplicate JSON key",
    "E136": "data: encoding refused (a byte not valid in it, mixed or doubtful encoding; use --encoding)",
    "E137": "data: unknown column or field that looks like a misspelt input (--allow-unknown-columns)",
    "E138": "data: CSV limit exceeded (columns, record or cell length)",
    "E139": "data: a value that cannot be read (NaN, Infinity, lone surrogate, huge integer, control character)",
    "W200": "parameter declared but never used",
    "W201": "parameter has no value (the policy sets no number)",
    "W202": "criterion has no clause citation",
    # W203-W209: certify lint (engine/lint.py)
    "W203": "citation names a clause (or a quote) not found in the source document",
    "W204": "case can never apply: earlier cases cover its condition",
    "W205": "note: cannot decide whether a case can apply",
    "W206": "bands overlap, or a band is empty",
    "W207": "bands leave a gap",
    "W208": "threshold magnitude suspicious for the input it is compared with",
    "W209": "note: source document not available or citation form not checkable",
    "W210": "indicator maxima do not add up to the stated total",
    "E175": "path leaves the folder being checked (a pack, suite or suite's pack; symlinks followed): not read",
    "W213": "not a regular file (FIFO, device, socket) named like a pack or suite: skipped",
    "W214": "a lint.ignore entry silences nothing (stale: remove it)",
    # Ranges reserved for the codes being added now, so parallel work never takes the same number:
    #   E134-E139 data readers (CSV / JSON / encodings / unknown columns)
    #   E140-E149 exactness (slots, signs, cycles, blank parameters)
    "E140": "threshold has more digits than the engine compares exactly (at most 18, counting decimals)",
    "E141": "negative threshold for a value that is never negative (or a negative parameter not declared signed)",
    "E142": "derived values defined in terms of themselves (a cycle)",
    "E143": "parameter value is blank (write a number, or unset: with the reason)",
    "E144": "data: negative amount for an input that is never negative",
    #
    #   E150-E159 bounded work (pack limits checked by validate before compile)
    "E150": "too many criteria in one group (engine/limits.py MAX_GROUP)",
    "E151": "too many tests in one pack (engine/limits.py MAX_TESTS)",
    "E152": "criteria nested too deep (engine/limits.py MAX_DEPTH)",
    "E153": "a criterion expands to too many conjunctions (engine/limits.py MAX_TERMS)",
    "E154": "simplifying the expansion would cost too much (engine/limits.py MAX_SIMPLIFY)",
    "E155": "too many engine rules for the pack (engine/limits.py MAX_RULES)",
    "E156": "too many comparisons across the engine rules (engine/limits.py MAX_ATOMS)",
    "E157": "at_least k outside 1..number of criteria listed",
    "E158": "a criterion could fire too many engine rules at once (an at_least of many criteria)",
    #
    #   E160-E169 spreadsheets (.xlsx / .xls limits and cells)
    "E160": "spreadsheet cannot be read: damaged, password-protected, or not an Excel workbook",
    "E161": "spreadsheet too large: unpacked size, zip parts or cell formats over the limit",
    "E162": "worksheet too large: rows, columns or cells over the limit",
    "E163": "spreadsheet shared strings over the limit (count or total length)",
    "E164": "spreadsheet cell text longer than the limit",
    "E165": "spreadsheet cell is not a finite number or a valid date (NaN, inf)",
    "E166": "spreadsheet formula has no cached value",
    "E167": "spreadsheet cell holds an error value (#DIV/0!, #N/A, ...)",
    "E168": "(no longer produced: a repeated spreadsheet column is E135, as in CSV)",
    "W160": "spreadsheet header found below title rows (which row was taken)",
    "W161": "spreadsheet total row (合计) or footer note (填表人：…) skipped: not an entity",
    #
    #   E170-E179 outputs and paths (output targets, paths leaving a folder, git revisions)
    "E170": "output folder does not exist (checked before any work)",
    "E171": "output folder or target not writable (checked before any work)",
    "E172": "output target is a folder, socket or block device",
    "E173": "writing the output failed (disk full, I/O error); the old file is unchanged",
    "E174": "git revision starts with '-' (would be read as an option)",
    #
    #   E180-E189 format 2 core; E190-E194 values; E195-E199 points; E200-E204 migration
    "E180": "format 2: values or criteria defined in terms of each other (the cycle is named: a → b → a)",
    "E181": "format 2: a name defined twice (inputs, parameters, choices, values, criteria share one namespace)",
    "E182": "format 2: unknown name (or option), with did-you-mean",
    "E183": "format 2: a name of the wrong sort here (a criterion where a number is needed …)",
    "E184": "format 2: unit dimensions do not match (money compared with a percent …)",
    "W180": "format 2: the evaluation date is outside the pack's effective..until window",
    "W181": "format 2: a parameter or choice that nothing reads",
    #   E200-E204 migration (format 1 converted to format 2, engine/load/format1.py)
    "E200": "not a format-1 pack that can be converted (format 2 already, or no criteria): nothing converted",
    "E201": "format-1 missing_value: exclude (an entity missing a scored figure is not ranked) has no format-2 form yet",
    "E202": "a condition outside a scoring pack reads result_last / result_rank (only a scoring pack ranks): not converted",
    "E203": "a parameter or choice has the name of an input or value; format 2 has one namespace: rename one",
    "E204": "(no longer produced: total_ties is written as the rank's ties: split | shared)",
    #   E205-E209 variants (pack.extends, engine/load/variants.py)
    "E205": "pack.extends is not a pack file in the same folder (a path, a missing file, a symlink out)",
    "E206": "pack.extends between packs that are not both format 2",
    "E207": "packs extend each other in a cycle, or the chain is longer than 4",
    "E208": "a variant's flag or consequence reuses an id of its base",
    "E209": "a variant replaces what it may not (an input, a value or criterion not marked slot: true, the decision)",
    #   E195-E199 points rules (engine/compile/points.py)
    "E195": "points: two bands overlap (one value would get two scores)",
    "E196": "points: the bands leave a gap and no `otherwise:` is given",
    "E197": "points: a band is empty, states an end twice, or states no end",
    "E198": "points: a number out of range (negative points, cap or step; per 0; weight outside 0-100%; minimum above cap)",
    "E199": "points: an option not allowed here (steps, ties, order…), or a choice with options the rule cannot use",
    #
    #   W213-W219 lint; W220-W229 data warnings
    #
    #   E190-E194 format-2 values (engine/compile/values.py)
    "E190": "value operation written wrongly: not a mapping or list as its form needs, an unknown key, a required key missing",
    "E191": "value operation has the wrong number of operands",
    "E192": "members: no such member field (or the field cannot be used there)",
    "E193": "years of a compound growth (or a date condition) is not a whole number from 1 to 50",
    "E194": "condition in a value (member `where`, `cases` `when`) written wrongly: operator not allowed for the type, comparand missing or extra",
    #
    #   E230-E239 the workbench server (engine/web, `certify serve`)
    "E230": "request body larger than the server accepts",
    "E231": "request body is not JSON (UTF-8)",
    "E232": "JSON nested too deep",
    "E233": "nothing at this address: no pack with this id, or no such API route",
    "E234": "more rows or entities than one request may decide",
    "E235": "a request field missing or wrong, or a method or content type not accepted",
    "E236": "the server's token is missing or wrong",
    "E237": "cross-site request or form without its check token refused",
    "E238": "the pack changed since the page was opened; nothing saved",
    "E239": "the server could not complete the request (no trace in the response)",
    #
    #   E240-E244 the decision log (engine/audit)
    "E240": "the decision log cannot be opened, read or written (bad URL, unsupported database, server unreachable)",
    "E241": "the decision log database has another schema version than this engine writes",
    "E242": "replay: a logged decision no longer reproduces (its outcome or record differs)",
    "E243": "replay: a logged decision cannot be decided again (its pack text is not in the log, its input does not match its hash, or the pack no longer compiles)",
    "E244": "certify log / replay: a filter cannot be read (a date, an outcome, a limit)",
    #   E245-E249 the workbench's kept batches and users (engine/web)
    "E245": "certify serve: a batch kept in the data folder cannot be shown again (decided again it does not come out as it was shown, or its pack text no longer compiles)",
    "E246": "certify serve --users: the users file cannot be used (no users, a name that is not plain, a token hash that is not 64 hex digits, two users with one token)",
    #
    #   E255-E259 scale: compact records, Parquet (engine/explain/compact.py, engine/load/parquet.py)
    "E255": "certify explain: the compact records were decided with another pack (its sha256 or format differs)",
    "E256": "certify explain: the file is not a document of compact decision records",
    "E257": "a Parquet data file or column cannot be read (not Parquet, damaged, a column holding lists or binary)",
    #   E260-E264 deciding on a Dask cluster (certify evaluate --cluster; engine/evaluate/cluster.py)
    "E260": "--cluster: the Dask cluster cannot be started or its scheduler reached (nothing decided)",
    "E261": "--cluster: a worker runs another certify version than this one (decisions could differ)",
    "E262": "--cluster: a partition was lost with every worker that took it (the run stops there)",
    "E263": "--cluster: the cluster lost the run (the scheduler went away, or the run's data was lost)",
    #   E264-E269, W264-W269 format 1 read as an input dialect (engine/validate/dialect1.py: a format-1
    #   pack converted on load); what the retired format-1 pipeline wrote
    "E264": "records written by the retired format-1 pipeline cannot be expanded (certify explain) or reproduced as written (certify audit replay)",
    "W264": "a format-1 pack was read by converting it to format 2 on load; certify migrate writes it as format 2",
}


@dataclass(frozen=True, order=True)
class Problem:
    """One problem, sortable by position so output follows the file."""

    file: str
    line: int
    col: int
    code: str
    message: str
    path: str = ""
    severity: str = field(default=ERROR, compare=False)
    # The same message for Chinese officers; `message` is the English one. Empty falls back to
    # English, but every problem an officer can meet should carry both (tests/test_messages.py).
    message_zh: str = field(default="", compare=False)
    # True when this problem made a reader skip a whole row or entity (malformed row, no id,
    # duplicate id…): the batch counts it as refused (engine/pipeline.py, RowCounts).
    refused_row: bool = field(default=False, compare=False)

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def text(self, lang: str = "en") -> str:
        """The message in `lang` ("zh" or "en")."""
        return self.message_zh if lang == "zh" and self.message_zh else self.message

    def format(self, lang: str = "en") -> str:
        where = f" [{self.path}]" if self.path else ""
        severity = SEVERITY_ZH.get(self.severity, self.severity) if lang == "zh" else self.severity
        return f"{self.location()}: {self.code} {severity}: {self.text(lang)}{where}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "severity": self.severity,
            "path": self.path,
            "message": self.message,
            "message_zh": self.message_zh or self.message,
            **({"refused_row": True} if self.refused_row else {}),
        }


class EngineError(Exception):
    """Base of every error this project raises on purpose."""


class ProblemsError(EngineError):
    """A file could not be used; carries every problem found in it."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


class DecisionError(EngineError):
    """The decision engine misbehaved (an action raised, or rules fired inconsistently)."""


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity == ERROR for p in problems)
