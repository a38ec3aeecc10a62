"""HTTP-stack benchmark for strom's watch fan-out and request path (see README.md)."""
