"""``scanner label``: print container labels (GS1-128 and GS1 Digital Link)."""
from __future__ import annotations

import argparse
import sys

HELP = "Print container labels (GS1-128 and GS1 Digital Link)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    print("scanner label: not built yet (the scanner issue adds it)", file=sys.stderr)
    return 2
