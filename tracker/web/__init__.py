"""The thin Flask layer: pages, JSON API and CLI commands over the domain."""
