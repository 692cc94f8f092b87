"""Unit tests: pure code, no sockets."""
