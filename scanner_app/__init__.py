"""Barcodes in, custody events out (built in issue #5)."""
