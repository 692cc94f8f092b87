"""Unit tests: no sockets, no servers, no notebooks; the whole folder runs in seconds (`make test-fast`)."""
