"""Test helpers for operator authors: the `strom_server` pytest fixture."""
