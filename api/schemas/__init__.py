"""Request and response bodies (pydantic). Requests refuse unknown fields."""
