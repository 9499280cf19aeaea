"""Configuration: the user's config and environment, credentials, providers, SSH, URLs."""
