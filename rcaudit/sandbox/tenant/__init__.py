"""The sandbox's tenants: the generator (people, drift and its truth), the built-in tenant, the tenant file and the
default synchronization schema. Never imports the audit engine: its truth must be its own."""
