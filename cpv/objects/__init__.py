"""Bytes in DVC's content-addressed layout: the cache, ingest, checkout, the storage, transfers."""
