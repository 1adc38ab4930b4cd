"""The ``beacon-gateway`` command: one sub-command per module in ``beacon_gateway.commands``."""
from __future__ import annotations

import argparse
import importlib
import sys

#: sub-command name -> module in beacon_gateway.commands offering add_arguments() and run()
COMMANDS = {
    "serve": "serve",
    "parse": "parse",
    "check-route": "check_route",
    "simulate": "simulate",
}


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(prog="beacon-gateway", description="GPS beacon gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"beacon_gateway.commands.{module_name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the gateway command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
