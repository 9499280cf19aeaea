"""The door: the managers every caller (CLI, Python, training callbacks) goes through."""
