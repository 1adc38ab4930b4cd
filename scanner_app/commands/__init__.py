"""Sub-commands of ``scanner``."""
