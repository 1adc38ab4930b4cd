"""``scanner label``: print container labels (GS1-128 and GS1 Digital Link)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scanner_app.client import TrackerClient, TrackerError, read_token
from scanner_app.labels import SUFFIXES, Label, make_label, write_labels
from tracker.domain.gs1 import InvalidIdentifier, validate_sscc

HELP = "Print container labels (GS1-128 and GS1 Digital Link)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("sscc", nargs="+", help="18-digit SSCC of each container")
    parser.add_argument("--out", required=True, type=Path, help=f"output file ({', '.join(SUFFIXES)})")
    parser.add_argument("--net-g", type=int, help="net mass in grams printed on every label")
    parser.add_argument("--tracker", help="tracker base URL to look up each container's net mass")
    parser.add_argument("--token-file", type=Path, help="file holding a device token for --tracker")


def run(args: argparse.Namespace) -> int:
    """Write the labels; on any bad input print one line and write nothing (exit 1)."""
    try:
        labels = _labels(args)
        write_labels(labels, args.out)
    except (InvalidIdentifier, ValueError, TrackerError, OSError) as exc:
        print(f"scanner label: {exc}", file=sys.stderr)
        return 1
    print(f"{len(labels)} label(s) written to {args.out}")
    return 0


def _labels(args: argparse.Namespace) -> list[Label]:
    """Validate every SSCC first, then find each net mass (argument, else the tracker)."""
    if args.out.suffix.lower() not in SUFFIXES:
        raise ValueError(f"--out must end in {', '.join(SUFFIXES)}")
    ssccs = [validate_sscc(sscc) for sscc in args.sscc]
    if args.net_g is not None:
        return [make_label(sscc, args.net_g) for sscc in ssccs]
    if not (args.tracker and args.token_file):
        raise ValueError("give --net-g, or --tracker and --token-file to look the masses up")
    client = TrackerClient(args.tracker, read_token(args.token_file))
    return [make_label(sscc, _tracked_net_g(client, sscc)) for sscc in ssccs]


def _tracked_net_g(client: TrackerClient, sscc: str) -> int:
    container = client.container(sscc)
    if container is None:
        raise ValueError(f"the tracker has no container {sscc}")
    return int(container["net_g"])
