"""The audit engine: scope, mapping and expressions, normalisers, join and classification, waivers.

Pure functions over a `Snapshot`: no network library is imported here, ever (tests/unit/test_import_contract.py).
"""
