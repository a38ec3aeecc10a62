"""strom.audit."""
