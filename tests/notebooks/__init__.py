"""Notebook tests: the notebooks executed headless (papermill, nbclient), marked slow."""
