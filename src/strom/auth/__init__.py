"""strom.auth."""
