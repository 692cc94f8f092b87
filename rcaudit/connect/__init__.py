"""The network edge: settings, the one HTTP session factory, tokens, the Graph and SCIM clients, the fetch that
fills a `Snapshot`, and the connection checks."""
