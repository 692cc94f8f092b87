"""Integration tests: HTTPS to the sandbox or a local receiver on 127.0.0.1."""
