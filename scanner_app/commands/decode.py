"""``scanner decode``: decode barcodes in image files and print JSON lines."""
from __future__ import annotations

import argparse
import sys

HELP = "Decode barcodes in image files and print JSON lines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    print("scanner decode: not built yet (the scanner issue adds it)", file=sys.stderr)
    return 2
