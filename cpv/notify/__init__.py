"""Webhooks: the store, what a webhook receives, delivery in the background."""
