"""engine.core.jsontext writes a `Stream` item by item, and the text is what json.dump(indent=2)
writes for the list the stream produces (issue 14: a score of 100,000 entities was held whole as
text and as dicts before it was written)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.jsontext import Stream, dump_indented, dumps_indented

LEAF = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                 st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6),
                 st.sampled_from(['{"a": [1]}', "[],{}", "，、：", "\u2028"]))
VALUES = st.recursive(LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)), max_leaves=20)
CONTAINERS = st.one_of(st.lists(VALUES, max_size=3), st.dictionaries(st.text(max_size=4), VALUES, max_size=3))


def _streamed(value: Any) -> Any:
    """`value` with each list of containers at a "stream" key turned into a Stream."""
    if isinstance(value, dict):
        return {k: (Stream(iter(v)) if k == "stream" else _streamed(v)) for k, v in value.items()}
    return value


@settings(max_examples=200, deadline=None)
@given(st.lists(CONTAINERS, max_size=5), st.lists(CONTAINERS, max_size=3), VALUES)
def test_a_stream_is_written_as_the_list_it_produces(items: list[Any], inner: list[Any], other: Any) -> None:
    plain = {"head": other, "stream": items, "nested": {"stream": inner, "x": 1}, "tail": [other]}
    expected = json.dumps(plain, ensure_ascii=False, indent=2)
    out = io.StringIO()
    dump_indented(_streamed(plain), out)
    assert out.getvalue() == expected
    assert dumps_indented(_streamed(plain)) == expected


def test_each_item_is_written_before_the_next_is_made() -> None:
    out = io.StringIO()
    seen: list[str] = []

    def items():
        for i in range(4):
            seen.append(out.getvalue())  # what was written when item i is asked for
            yield {"i": i, "steps": [{"a": i}]}

    dump_indented({"decisions": Stream(items()), "counts": {"n": 4}}, out)
    assert '"i": 0' not in seen[0] and '"i": 0' in seen[1] and '"i": 2' in seen[3] and '"i": 3' not in seen[3]
    assert json.loads(out.getvalue())["decisions"][3] == {"i": 3, "steps": [{"a": 3}]}


def test_a_stream_of_scalars_is_refused() -> None:
    with pytest.raises(TypeError):
        dump_indented({"a": Stream(iter([1, 2]))}, io.StringIO())
