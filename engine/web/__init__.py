"""The officer's workbench (issue 13): `certify serve`, a local web app and a versioned HTTP API.

The top layer: it reads packs (engine.load / validate / compile), decides with the same pipeline
as `certify evaluate` (engine.evaluate / explain), shows what the report stage renders, and
compares versions with `certify diff` (engine.commands). Nothing below imports it.

- `service`: the pack folder (ids mapped to files; an id never becomes a path), deciding a batch.
- `guard`: limits, the token, cross-site form checks, problem records for refused requests.
- `api`: /api/v1 (JSON) and its OpenAPI document.
- `pages`: the HTML pages (Chinese, with an English switch; phone width).
- `app`: the Starlette application and `serve` (uvicorn).
"""
