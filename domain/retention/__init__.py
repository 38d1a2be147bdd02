"""Deleting what the service stored: on request, and when the retention period ends."""
