"""``beacon-gateway serve``: run the gateway: HTTP, TCP and MQTT ingestion."""
from __future__ import annotations

import argparse
import sys

HELP = "Run the gateway: HTTP, TCP and MQTT ingestion"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit code."""
    print("beacon-gateway serve: not built yet (the beacon gateway issue adds it)", file=sys.stderr)
    return 2
