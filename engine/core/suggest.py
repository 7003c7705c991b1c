"""'Did you mean …?' for a name that is not known: the closest known name, in English and Chinese."""

from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name)[:200], list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def did_you_mean_zh(name: str, choices: Iterable[str]) -> str:
    """The Chinese form of `did_you_mean`: `；是否应为 'threshold'？`."""
    close = difflib.get_close_matches(str(name)[:200], list(choices), n=1, cutoff=0.6)
    return f"；是否应为 {close[0]!r}？" if close else ""
