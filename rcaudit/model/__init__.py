"""The model: the error tree, the findings contract, the `Snapshot` record, SCIM paths and schema URNs, run ids.

Plain records and the files they are saved in; no network, and nothing here knows an audit rule.
"""
