"""Unit tests: pure code and files, no sockets."""
