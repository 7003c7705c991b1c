"""Format-2 points operations (bands, map, per_unit, rank_points, group…): how each is read from a pack (a parser registered with `@op`).

See docs/format2.md for the language and engine/compile/ops.py for the registry.
"""

from __future__ import annotations
