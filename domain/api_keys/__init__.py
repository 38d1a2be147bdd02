"""API keys: hashed secrets with a tenant and scopes."""
