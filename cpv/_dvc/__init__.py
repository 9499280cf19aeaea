"""Adapter: the only code that imports dvc."""
