"""Sub-commands of ``beacon-gateway``."""
