"""``scanner station``: run a checkpoint station on a camera, a video or a folder of photos."""
from __future__ import annotations

import argparse
import sys

HELP = "Run a checkpoint station on a camera, a video or a folder of photos"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    print("scanner station: not built yet (the scanner issue adds it)", file=sys.stderr)
    return 2
