"""Notebook tests: papermill, executed notebooks and a browser; every test is marked `slow`."""
