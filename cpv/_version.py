"""The version of cpv (pyproject.toml states it too; a test keeps them equal)."""

__version__ = "0.1.0"
