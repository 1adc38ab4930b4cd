"""The ``beacon-gateway`` command."""
from __future__ import annotations

import argparse
import sys

COMMANDS = ("serve", "parse", "check-route", "simulate")


def main(argv: list[str] | None = None) -> int:
    """Run the gateway command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="beacon-gateway", description="GPS beacon gateway")
    parser.add_argument("command", choices=COMMANDS)
    args, _rest = parser.parse_known_args(argv)
    print(f"beacon-gateway {args.command}: not built yet (the beacon gateway issue adds it)",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
