"""rcaudit's tests, sorted by kind: unit/ (no sockets), integration/ (HTTPS to the sandbox and scim2-server),
notebooks/ (papermill and nbval, `slow`), support/ (shared helpers and fixture notebooks)."""
