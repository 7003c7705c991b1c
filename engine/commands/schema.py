"""`certify schema`: the JSON Schema of the rule pack format (for editors and CI)."""

from __future__ import annotations

import json

from engine.commands.common import EXIT
from engine.core.files import check_output, open_output
from engine.validate.validate import schema as pack_schema


def run_schema(output: str | None) -> int:
    check_output(output)
    with open_output(output) as out:
        out.write(json.dumps(pack_schema(), ensure_ascii=False, indent=2) + "\n")
    return EXIT["ok"]
