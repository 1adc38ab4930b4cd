"""What each preprocessing pass and engine contributes, measured on the barcode data set.

Run from the checkout:  .venv/bin/python bench/barcode_passes.py [--data DIR]  (default: tests/data/barcodes;
the figures in docs/benchmarks.md used the larger set beside the checkout, ../shared/data/barcodes)

Part 1 runs every candidate pass (scanner_app.passes.CANDIDATES) with every engine on every
image and prints, per (pass, engine): images read, images no other combination reads,
wrong reads (a text that is neither the expected one nor another code printed in the set) and the
mean milliseconds per image. Part 2 runs the decoder's chain (scanner_app.passes.PASSES, with its
cascade and confirmation rules) with each step left out and each other candidate added. Part 3
does the same for the rotation passes on labels rendered here and tilted -85..85 degrees.
Times are CPU time of this process (the machine may be shared), in milliseconds per image.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import barcode
import cv2
import numpy as np
from barcode.writer import ImageWriter

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from barcodes import DEFAULT_DATA, Sample, samples  # noqa: E402
from scanner_app.decode import decode_pixels  # noqa: E402
from scanner_app.engines import CANDIDATE_ENGINES  # noqa: E402
from scanner_app.images import load_image  # noqa: E402
from scanner_app.passes import CANDIDATES, PASSES, Pass, _rotate, to_grey  # noqa: E402

Key = tuple[str, str]


def genuine_texts(data: list[Sample]) -> set[str]:
    """Texts really printed in the set: a photo may show a second code that is another image's text."""
    return {s.expected for s in data if s.expected is not None}


def measure(data: list[Sample]) -> tuple[dict[Key, set[Path]], dict[Key, list[str]], dict[Key, float]]:
    """Run every (pass, engine) on every image: images read, wrong reads, seconds in total."""
    hits: dict[Key, set[Path]] = defaultdict(set)
    wrong: dict[Key, list[str]] = defaultdict(list)
    seconds: dict[Key, float] = defaultdict(float)
    genuine = genuine_texts(data)
    for sample in data:
        grey = to_grey(load_image(sample.path))
        for pass_name, step in CANDIDATES.items():
            start = time.process_time()
            image, _ = step.apply(grey)
            prepared = time.process_time() - start
            for engine_name, engine in CANDIDATE_ENGINES.items():
                start = time.process_time()
                texts = [read.text for read in engine(image)]
                seconds[(pass_name, engine_name)] += prepared + time.process_time() - start
                if sample.expected in texts:
                    hits[(pass_name, engine_name)].add(sample.path)
                wrong[(pass_name, engine_name)] += [
                    f"{sample.folder}/{sample.path.name}:{t[:24]!r}" for t in texts if t not in genuine]
    return hits, wrong, seconds


def print_contributions(data: list[Sample]) -> None:
    """Part 1: the table of every candidate pass with every engine."""
    hits, wrong, seconds = measure(data)
    chain = {(p.name, e) for p in PASSES for e in p.engines}
    print(f"{'pass':20}{'engine':24}{'read':>5}{'only it':>8}{'wrong':>6}{'ms/img':>8}  in chain")
    for key in sorted(hits.keys() | wrong.keys(), key=lambda k: (-len(hits[k]), k)):
        others = set().union(*(v for k, v in hits.items() if k != key))
        print(f"{key[0]:20}{key[1]:24}{len(hits[key]):5d}{len(hits[key] - others):8d}"
              f"{len(wrong[key]):6d}{1000 * seconds[key] / len(data):8.1f}  {'yes' if key in chain else ''}"
              + (f"  e.g. {wrong[key][0]}" if wrong[key] else ""))
    every = set().union(*hits.values())
    print(f"read by at least one combination: {len(every)} of {sum(s.expected is not None for s in data)}")


def chain_outcome(data: list[Sample], chain: tuple[Pass, ...]) -> tuple[int, int, list[str]]:
    """Run a decoder chain: images read, seconds per image, and its wrong reads / false positives."""
    read, wrong, start, genuine = 0, [], time.process_time(), genuine_texts(data)
    for sample in data:
        texts = [r.text for r in decode_pixels(load_image(sample.path), passes=chain, engines=CANDIDATE_ENGINES)]
        read += sample.expected in texts
        wrong += [f"{sample.folder}/{sample.path.name}:{t[:24]!r}" for t in texts
                  if t != sample.expected and (sample.expected is None or t not in genuine)]
    return read, (time.process_time() - start) / len(data), wrong


def print_chain(data: list[Sample]) -> None:
    """Part 2: the real chain (cascade and confirmation) with each step left out or each candidate added."""
    base_read, base_seconds, base_wrong = chain_outcome(data, PASSES)
    print("decoder chain:", " -> ".join(f"{p.name}[{','.join(p.engines)}]" for p in PASSES))
    print(f"  reads {base_read}, {1000 * base_seconds:.1f} ms/img, wrong {len(base_wrong)} {base_wrong[:3]}")
    variants: list[tuple[str, tuple[Pass, ...]]] = []
    for index, step in enumerate(PASSES):
        for engine in step.engines:
            kept = tuple(e for e in step.engines if e != engine)
            changed = (replace(step, engines=kept),) if kept else ()
            variants.append((f"without {step.name}/{engine}", PASSES[:index] + changed + PASSES[index + 1:]))
    chosen = {p.name for p in PASSES}
    for name, candidate in CANDIDATES.items():
        if name not in chosen:
            variants += [(f"adding {name}/{e}", PASSES + (replace(candidate, engines=(e,)),))
                         for e in CANDIDATE_ENGINES]
    variants.append(("adding plain/opencv", PASSES + (replace(CANDIDATES["plain"], engines=("opencv",)),)))
    for label, chain in variants:
        read, seconds, wrong = chain_outcome(data, chain)
        print(f"  {label:52} reads {read - base_read:+3d}  ms/img {1000 * (seconds - base_seconds):+6.1f}"
              f"  wrong {len(wrong) - len(base_wrong):+d} {[w for w in wrong if w not in base_wrong][:2]}")


def tilted_labels() -> list[tuple[str, int, np.ndarray]]:
    """Labels rendered by python-barcode and tilted -85..85 degrees: GS1-128 of an SSCC in six
    geometries (module width x bar height: the tilt a scan line survives depends on it), EAN-13
    and ITF-14."""
    sscc = "00106141411234567897"
    labels = [(sscc, "gs1_128", sscc, {"module_width": width, "module_height": height})
              for width in (0.2, 0.3, 0.4) for height in (15.0, 8.0)]
    labels += [("9780804816632", "ean13", "978080481663", {}), ("10614141123456", "itf", "10614141123456", {})]
    tilted = []
    for text, kind, data, options in labels:
        buffer = io.BytesIO()
        barcode.get(kind, data, writer=ImageWriter()).write(buffer, options=options)
        label = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_GRAYSCALE)
        tilted += [(text, degrees, _rotate(degrees)(label)[0]) for degrees in range(-85, 90, 5)]
    return tilted


def print_tilted() -> None:
    """Part 3: labels photographed at an angle, with the rotation passes, some or none."""
    labels = tilted_labels()
    rotations = tuple(p for p in PASSES if p.name.startswith("rotate"))
    others = tuple(p for p in PASSES if p not in rotations)
    variants = [("decoder chain", PASSES), ("without rotation passes", others)]
    variants += [(f"only {p.name} of the rotations", others + (p,)) for p in rotations]
    variants += [(f"without {p.name}", tuple(q for q in PASSES if q is not p)) for p in rotations]
    print(f"tilted labels rendered here: {len(labels)} (8 labels x 35 angles)")
    for label, chain in variants:
        read, wrong = 0, []
        for text, degrees, image in labels:
            texts = [r.text for r in decode_pixels(image, passes=chain)]
            read += text in texts
            wrong += [f"{degrees}:{t}" for t in texts if t != text]
        print(f"  {label:36} reads {read:3d}  wrong {len(wrong)} {wrong[:3]}")


def main(argv: list[str] | None = None) -> int:
    """Print both parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of barcode folders")
    args = parser.parse_args(argv)
    data = samples(args.data)
    if not data:
        print(f"no images under {args.data}", file=sys.stderr)
        return 2
    print(f"{len(data)} images from {args.data}; OpenCV {cv2.__version__}")
    print_contributions(data)
    print_chain(data)
    print_tilted()
    return 0


if __name__ == "__main__":
    sys.exit(main())
