"""A 2 MB .xlsx whose worksheet unpacks to 2 GB of whitespace between two rows.

The deflate stream is built from one compressed megabyte repeated (each block ends in a full
flush, so the copies are identical), so making the file takes seconds, not a 2 GB compression."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

MEGABYTES = 2000


def _deflate_repeated(head: bytes, chunk: bytes, times: int, tail: bytes) -> tuple[bytes, int, int]:
    """Raw deflate of head + chunk * times + tail, with its CRC-32 and length."""
    parts = []
    for piece in (head,):
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        parts.append(c.compress(piece) + c.flush(zlib.Z_FULL_FLUSH))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = c.compress(tail) + c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)
    return parts[0] + block * times + last, crc, len(head) + len(chunk) * times + len(tail)


def write_zip(path: Path, members: list[tuple[str, bytes, int, int]]) -> None:
    """members: (name, raw deflate data, crc, uncompressed size)."""
    out = bytearray()
    central = bytearray()
    for name, data, crc, size in members:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0)
        out += encoded + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size,
                               len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))


def plain(name: str, text: str) -> tuple[str, bytes, int, int]:
    raw = text.encode()
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, c.compress(raw) + c.flush(), zlib.crc32(raw), len(raw)


WORKBOOK = ('<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
RELS = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>')


def generate(folder: Path) -> None:
    head = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            b'<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c></row>')
    tail = b'<row r="2"><c r="A2" t="inlineStr"><is><t>T1</t></is></c></row></sheetData></worksheet>'
    data, crc, size = _deflate_repeated(head, b" " * (1 << 20), MEGABYTES, tail)
    write_zip(folder / "towns.xlsx", [plain("xl/workbook.xml", WORKBOOK), plain("xl/_rels/workbook.xml.rels", RELS),
                                      ("xl/worksheets/sheet1.xml", data, crc, size)])


if __name__ == "__main__":
    generate(Path("."))
