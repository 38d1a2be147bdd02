"""The tamper-evident audit log: append-only, each row hash-chained to the one before."""
