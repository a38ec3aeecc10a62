"""strom.cache."""
