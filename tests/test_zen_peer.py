"""bench/huguan-zen.json, the Huguan pack as a GoRules zen-engine graph (the peer bench/ measures
durable-rules against, issue 14), decides what certify decides: every criterion's status and the
branch of the cases node, the decision and the flag, on the fixture towns and on generated ones."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
pytest.importorskip("zen", reason="zen-engine is the bench extra (setup.sh installs it)")

import zen_peer  # noqa: E402


def test_the_graph_file_is_the_one_zen_peer_writes() -> None:
    assert json.loads(zen_peer.GRAPH_FILE.read_text(encoding="utf-8")) == zen_peer.graph()


@pytest.mark.parametrize("towns", ["fixture", "generated"])
def test_zen_decides_as_certify(towns: str, tmp_path: Path) -> None:
    from bench import write_towns

    if towns == "fixture":
        path = ROOT / "fixtures" / "huguan-towns.csv"
    else:
        path = tmp_path / "towns.csv"
        write_towns(path, 400, 11)
    result = zen_peer.run(0, 0, path, rounds=1)
    assert result["n"] >= 6
    assert result["zen_equals_durable"] == result["n"] == result["durable_equals_reference"], result.get("first_difference")
    assert len(result["outcomes"]) == 3 or towns == "fixture"
