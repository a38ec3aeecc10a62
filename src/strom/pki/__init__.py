"""strom.pki."""
