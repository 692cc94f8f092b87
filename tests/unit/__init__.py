"""Unit tests: no sockets."""
