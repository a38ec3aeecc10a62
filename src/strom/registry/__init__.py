"""strom.registry."""
