"""Adapter: the only code that runs git."""
