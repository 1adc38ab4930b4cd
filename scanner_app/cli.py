"""The ``scanner`` command: one sub-command per module in ``scanner_app.commands``."""
from __future__ import annotations

import argparse
import importlib
import sys

#: sub-command name -> module in scanner_app.commands offering HELP, add_arguments() and run()
COMMANDS = {"decode": "decode", "label": "label", "station": "station"}


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(prog="scanner", description="Container barcode scanner")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"scanner_app.commands.{module_name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the scanner command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
