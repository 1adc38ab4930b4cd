"""What the set-up installs actually works: both barcode engines read a generated label."""
from __future__ import annotations

import io

import barcode
import numpy as np
import zxingcpp
from barcode.writer import ImageWriter
from PIL import Image
from pyzbar import pyzbar

from tracker.domain.gs1 import make_sscc


def test_pyzbar_and_zxing_read_a_generated_code128_sscc() -> None:
    sscc = make_sscc(3, "470000001", 1001)
    buffer = io.BytesIO()
    barcode.get("code128", sscc, writer=ImageWriter()).write(buffer)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    assert [r.data.decode() for r in pyzbar.decode(image)] == [sscc]  # needs Debian's libzbar0
    assert [r.text for r in zxingcpp.read_barcodes(np.asarray(image))] == [sscc]
