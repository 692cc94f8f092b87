"""Integration tests: HTTPS to the sandbox started in the test."""
