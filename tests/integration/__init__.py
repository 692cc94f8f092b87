"""Integration tests: HTTPS to the sandbox started in the test, scim2-server, the SDK conformance tests."""
