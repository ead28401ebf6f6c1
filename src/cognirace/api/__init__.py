"""The prediction service: a FastAPI app that serves the registry's production models.

Build it with ``cognirace.api.app.create_app(settings)``; nothing is done at import time,
so the key, limit, cache and metrics modules can be used (by the CLI, by tests) without
starting an app.
"""
