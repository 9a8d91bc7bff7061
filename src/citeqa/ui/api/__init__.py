"""The REST API (``POST /api/ask``, ``GET /api/search``, ``GET /healthz``) and its offline OpenAPI docs."""
