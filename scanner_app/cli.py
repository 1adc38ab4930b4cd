"""The ``scanner`` command."""
from __future__ import annotations

import argparse
import sys

COMMANDS = ("decode", "label", "station")


def main(argv: list[str] | None = None) -> int:
    """Run the scanner command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="scanner", description="Container barcode scanner")
    parser.add_argument("command", choices=COMMANDS)
    args, _rest = parser.parse_known_args(argv)
    print(f"scanner {args.command}: not built yet (the scanner issue adds it)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
