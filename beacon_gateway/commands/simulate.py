"""``beacon-gateway simulate``: drive a simulated beacon along a declaration's route."""
from __future__ import annotations

import argparse
import sys

HELP = "Drive a simulated beacon along a declaration's route"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    print("beacon-gateway simulate: not built yet (the beacon gateway issue adds it)", file=sys.stderr)
    return 2
