"""Tests that run notebooks (papermill) or drive a browser: slow, `make test-fast` skips them."""
