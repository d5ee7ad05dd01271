"""Sample and hostile files, made at run time (nothing hostile is committed)."""

import io
import json
import zipfile

# Split so that no file in the repository holds the test signature whole.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()


def csv_bytes(rows: int = 3) -> bytes:
    lines = ["id,name,score,joined"] + [f"{i},Name {i},{i * 1.5},2024-0{1 + i % 9}-01" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def tsv_bytes() -> bytes:
    return b"id\tname\n1\tAsha\n2\tRavi\n"


def json_bytes() -> bytes:
    return json.dumps([{"id": 1, "tags": ["a"]}, {"id": 2, "meta": {"k": 1}}], indent=2).encode()


def ndjson_bytes() -> bytes:
    return b'{"id": 1}\n{"id": 2}\n{"id": 3}\n'


def text_bytes() -> bytes:
    return "Field notes from Ramanagara.\nSecond line, with ünïcode.\n".encode()


def xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Samples"
    sheet.append(["id", "label"])
    sheet.append([1, "cat"])
    sheet.append([2, "dog"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def image_bytes(fmt: str = "PNG", size=(4, 3)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb_bytes(unpacked: int) -> bytes:
    """A workbook-shaped ZIP whose one entry inflates to `unpacked` zero bytes."""
    return zip_bytes(
        {
            "[Content_Types].xml": b"<Types/>",
            "xl/workbook.xml": b"<workbook/>",
            "xl/big.bin": b"\0" * unpacked,
        }
    )
