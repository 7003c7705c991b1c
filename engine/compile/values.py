"""Format-2 value operations (ratio, sum, growth, count over members, dates…): how each is read from a pack (a parser registered with `@op`).

See docs/format2.md for the language and engine/compile/ops.py for the registry.
"""

from __future__ import annotations
