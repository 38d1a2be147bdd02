"""The one domain layer shared by the API, the job runners and the dashboard.

Settings, the database, the ORM models and the services for jobs, base models, artifacts,
the audit log, API keys and idempotency keys, and object storage. It knows nothing of HTTP.
"""
