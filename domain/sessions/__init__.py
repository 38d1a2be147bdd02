"""Dashboard sessions, kept server-side: signing out or revoking the key ends them."""
