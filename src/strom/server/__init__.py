"""strom.server."""
