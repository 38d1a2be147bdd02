"""Signed webhooks (Standard Webhooks) on job state changes, from a durable outbox."""
