"""Unit tests: no sockets, seconds."""
