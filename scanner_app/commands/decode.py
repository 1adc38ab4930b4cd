"""``scanner decode FILE...``: decode barcodes in image files and print one JSON line per file.

    {"file": "a.jpg", "codes": [{"format": "Code128", "text": "00...", "engine": "zxing-cpp",
     "pass": "plain", "gs1": {"00": "..."}, "sscc": "..."}]}
    {"file": "b.png", "error": "corrupt or truncated image: ..."}

A code whose GS1 data fails a check digit has "rejected": the reason, and no "sscc". The exit
code is 0 when every file was read, 1 when any file could not be read, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from scanner_app.decode import decode
from scanner_app.decoded import Decoded, ImageError
from scanner_app.gs1 import ContainerRead, GS1Error, RejectedRead, judge, parse_gs1

HELP = "Decode barcodes in image files and print JSON lines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="image files (PNG, JPEG, GIF, ...)")


def run(args: argparse.Namespace) -> int:
    """Decode each file in turn; returns 1 if any file could not be read."""
    failed = False
    for name in args.files:
        line = describe_file(name)
        failed = failed or "error" in line
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def describe_file(name: str) -> dict[str, Any]:
    """The JSON object for one file: its codes, or the error that stopped reading it."""
    try:
        return {"file": name, "codes": [describe_code(read) for read in decode(name)]}
    except ImageError as error:
        return {"file": name, "error": str(error)}


def describe_code(read: Decoded) -> dict[str, Any]:
    """The JSON object for one code, with its GS1 data and container verdict when it has them."""
    code: dict[str, Any] = {"format": read.format, "text": read.text, "engine": read.engine,
                            "pass": read.pass_name}
    if read.symbology_identifier:
        code["symbology_identifier"] = read.symbology_identifier
    try:
        data = parse_gs1(read.text, read.symbology_identifier)
    except GS1Error:
        data = None
    if data is not None:
        code["gs1"] = data.as_dict()
    verdict = judge(read)
    if isinstance(verdict, ContainerRead):
        code["sscc"] = verdict.sscc
    elif isinstance(verdict, RejectedRead):
        code["rejected"] = verdict.reason
    return code

