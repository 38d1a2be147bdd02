"""The HTTP API (FastAPI): forget-requests, job state, artifacts, models, keys and audit."""
