"""Cycles in a dependency graph: one home for the check that both pack formats make (format 1's
derived inputs, E142; format 2's one namespace, E180)."""

from __future__ import annotations


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each cycle once, as [a, b, …, a] starting at its first-declared member. Every name an edge
    leads to must be a key of `graph`. Iterative depth-first search: a pack can declare thousands
    of names in a chain, deeper than Python's recursion limit."""
    order = {name: i for i, name in enumerate(graph)}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    for start in graph:
        if start in state:
            continue
        path = [start]
        stack = [iter(graph[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            if state.get(nxt) == 1:
                loop = path[path.index(nxt):]
                if frozenset(loop) not in seen:
                    seen.add(frozenset(loop))
                    first = min(range(len(loop)), key=lambda i: order[loop[i]])
                    loop = loop[first:] + loop[:first]
                    found.append(loop + [loop[0]])
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(graph[nxt]))
    return found
