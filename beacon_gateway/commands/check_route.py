"""``beacon-gateway check-route``: evaluate a recorded track against a planned route offline."""
from __future__ import annotations

import argparse
import sys

HELP = "Evaluate a recorded track against a planned route offline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    print("beacon-gateway check-route: not built yet (the beacon gateway issue adds it)", file=sys.stderr)
    return 2
