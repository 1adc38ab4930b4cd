"""The two CRC-16 variants the binary tracker protocols use."""
from __future__ import annotations


def _reflected_table(poly: int) -> tuple[int, ...]:
    """Build the byte-wise lookup table of a reflected (LSB-first) CRC-16."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_IBM_TABLE = _reflected_table(0xA001)   # x^16 + x^15 + x^2 + 1, reflected
_ITU_TABLE = _reflected_table(0x8408)   # x^16 + x^12 + x^5 + 1, reflected


def crc16_ibm(data: bytes) -> int:
    """CRC-16/IBM (also called CRC-16/ARC): Teltonika's AVL packet checksum."""
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _IBM_TABLE[(crc ^ byte) & 0xFF]
    return crc


def crc16_itu(data: bytes) -> int:
    """CRC-ITU (CRC-16/X-25: initial 0xFFFF, final complement): the GT06 packet checksum."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _ITU_TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF
