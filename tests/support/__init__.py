"""Shared test helpers: small tenants and snapshots, fix-up run folders, the Chromium driver, a TLS WSGI server."""
