"""strom.tools."""
