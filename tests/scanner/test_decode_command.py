"""``scanner decode FILE...``: one JSON line per file, GS1 containers and rejects, exit codes."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import barcode
import numpy as np
import pytest
import zxingcpp
from barcode.writer import ImageWriter
from PIL import Image

from tests.conftest import DATA
from scanner_app.cli import main

BARCODES = DATA / "barcodes"
SSCC = "106141411234567897"
BAD_SSCC = "106141411234567898"


def gs1_128_label(tmp_path: Path, sscc: str) -> Path:
    """A GS1-128 of AI (00) as python-barcode prints it (FNC1 first), saved as PNG."""
    buffer = io.BytesIO()
    barcode.get("gs1_128", "00" + sscc, writer=ImageWriter()).write(buffer)
    path = tmp_path / f"label-{sscc}.png"
    path.write_bytes(buffer.getvalue())
    return path


def digital_link_qr(tmp_path: Path, sscc: str) -> Path:
    """A QR code holding a GS1 Digital Link URI of the SSCC."""
    symbol = zxingcpp.create_barcode(f"https://id.example/00/{sscc}", zxingcpp.BarcodeFormat.QRCode)
    pixels = np.pad(np.asarray(zxingcpp.write_barcode_to_image(symbol, scale=6)), 40, constant_values=255)
    path = tmp_path / f"qr-{sscc}.png"
    Image.fromarray(pixels).save(path)
    return path


def run_decode(capsys: pytest.CaptureFixture[str], *files: Path | str) -> tuple[int, list[dict]]:
    code = main(["decode", *map(str, files)])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_codes_of_each_file_are_printed_as_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    photos = [BARCODES / "qrcode-6" / "1.png", BARCODES / "datamatrix-3" / "abcd-48x8.png"]
    code, lines = run_decode(capsys, *photos)
    assert code == 0
    assert [line["file"] for line in lines] == [str(p) for p in photos]
    for photo, line in zip(photos, lines):
        expected = photo.with_suffix(".txt").read_text(encoding="utf-8")
        assert [c["text"] for c in line["codes"]] == [expected]
        assert set(line["codes"][0]) >= {"format", "text", "engine", "pass"}
    assert [line["codes"][0]["format"] for line in lines] == ["QRCode", "DataMatrix"]


def test_gs1_label_shows_its_sscc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run_decode(capsys, gs1_128_label(tmp_path, SSCC), digital_link_qr(tmp_path, SSCC))
    assert code == 0
    label, qr = (line["codes"][0] for line in lines)
    assert (label["format"], label["sscc"], label["gs1"]) == ("Code128", SSCC, {"00": SSCC})
    assert (qr["format"], qr["sscc"]) == ("QRCode", SSCC)
    assert "rejected" not in label and "rejected" not in qr


def test_wrong_check_digit_is_rejected_without_sscc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run_decode(capsys, gs1_128_label(tmp_path, BAD_SSCC), digital_link_qr(tmp_path, BAD_SSCC))
    assert code == 0
    for line in lines:
        (read,) = line["codes"]
        assert "sscc" not in read
        assert "check digit should be 7" in read["rejected"]


def test_photo_without_barcode_prints_no_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run_decode(capsys, BARCODES / "falsepositives" / "02.png")
    assert (code, lines[0]["codes"]) == (0, [])


def test_unreadable_file_prints_its_error_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_image = tmp_path / "notes.png"
    not_image.write_text("not a picture")
    good = BARCODES / "itf-1" / "1.png"
    code, lines = run_decode(capsys, not_image, tmp_path / "missing.jpg", good)
    assert code == 1
    assert [sorted(line) for line in lines] == [["error", "file"], ["error", "file"], ["codes", "file"]]
    assert "not an image" in lines[0]["error"]
    assert "missing.jpg" in lines[1]["error"]
    assert lines[2]["codes"][0]["text"] == "30712345000010"


def test_no_file_is_a_usage_error_with_exit_2() -> None:
    result = subprocess.run([sys.executable, "-m", "scanner_app.cli", "decode"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "FILE" in result.stderr
    assert result.stdout == ""
