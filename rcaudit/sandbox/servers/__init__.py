"""The emulators: login (OAuth 2.0 / OIDC), Microsoft Graph and RingCentral SCIM, over local HTTPS with their own CA,
rate limits, paging, error shapes and injectable faults."""
