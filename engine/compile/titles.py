"""Titles that quote a threshold follow the parameter's value in force.

A criterion's title may name a parameter in braces: `制造业类产值达到{manufacturing_output_min}以上`.
The compiler fills each placeholder with the parameter's value as officers write it (`10亿元`), the
value in force on the as-of date (dated `values:`), or the one an officer supplied with `--set`
or an override file. So a title never quotes a number the decision did not use. validate
reports a placeholder that names no parameter (E120, engine.validate.titles).
"""

from __future__ import annotations

import re
from typing import Any

from engine.core.units import format_amount
from engine.validate.titles import PLACEHOLDER

UNSET_TEXT = {"zh": "(未定)", "en": "(not set)"}


def fill_title(title: Any, params: dict[str, Any]) -> Any:
    """The title with each `{parameter}` replaced by the value in force (`ParamSpec.written`).

    A name that is not a parameter is left as written (validate has reported it)."""
    if not isinstance(title, dict):
        return title
    out = {}
    for lang, text in title.items():
        if not isinstance(text, str) or "{" not in text:
            out[lang] = text
            continue

        def one(match: re.Match[str], lang: str = lang) -> str:
            param = params.get(match.group(1))
            if param is None:
                return match.group(0)
            if param.value is None:
                return UNSET_TEXT.get(lang, UNSET_TEXT["zh"])
            if lang != "zh" and param.unit is not None and param.unit.dimension == "count":
                # "at least {leading_firms_min} leading firms": English has no measure words (家, 户)
                return format_amount(param.value, param.unit, "en")
            return param.written or format_amount(param.value, param.unit)

        out[lang] = PLACEHOLDER.sub(one, text)
    return out
