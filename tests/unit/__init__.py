"""Unit tests: no sockets, no notebooks, no browser."""
