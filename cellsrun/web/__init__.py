"""The page: `cellsrun web` (ASGI app, JSON API, static files)."""
