"""Per-tenant quotas on jobs and steps, and the per-key request rate limit."""
