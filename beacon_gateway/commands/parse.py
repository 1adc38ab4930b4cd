"""``beacon-gateway parse``: decode a device log and print its positions as JSON lines."""
from __future__ import annotations

import argparse
import sys

HELP = "Decode a device log and print its positions as JSON lines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    print("beacon-gateway parse: not built yet (the beacon gateway issue adds it)", file=sys.stderr)
    return 2
