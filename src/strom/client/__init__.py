"""strom.client."""
