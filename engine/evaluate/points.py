"""Format-2 points operations (bands, map, per_unit, rank_points, group…): how each is computed (a function registered with `@computes`).

See docs/format2.md for the language and engine/evaluate/ops.py for the registry.
"""

from __future__ import annotations
