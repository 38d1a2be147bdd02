"""The `sfd` command line."""
