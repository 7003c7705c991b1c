"""Format-2 value operations (ratio, sum, growth, count over members, dates…): how each is computed (a function registered with `@computes`).

See docs/format2.md for the language and engine/evaluate/ops.py for the registry.
"""

from __future__ import annotations
