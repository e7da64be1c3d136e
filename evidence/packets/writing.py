"""Writing evidence packets: the records CSV, the file entries packet.json lists (SHA-256, rows, bytes,
media type), packet.json itself, and a packet laid out as a folder or as a deterministic zip.

Plain module, no Django. The sample packets (evidence/samples/evidence.py) and the tests' packet builder
both write through it, so what they write is what validation reads.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from evidence.packets.model import PACKET_FILE

MEDIA_TYPES = {"pdf": "application/pdf", "txt": "text/plain",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
# A zip member's timestamp when the caller gives none (zip stores local times to two seconds, no zone).
DEFAULT_ZIP_TIME = (2026, 11, 20, 3, 0, 0)


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[str]], *, bom: bool = False) -> bytes:
    """RFC 4180 with CRLF line ends, UTF-8 (a BOM when asked)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def media_type(path: str) -> str:
    return MEDIA_TYPES.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def records_entry(path: str, content: bytes) -> dict[str, Any]:
    """packet.json's `records`: the path, SHA-256 and the number of data rows (the header not counted)."""
    rows = sum(1 for _ in csv.reader(io.StringIO(content.decode("utf-8-sig", "replace"), newline=""))) - 1
    return {"path": path, "sha256": sha256(content), "rows": max(rows, 0)}


def document_entry(path: str, content: bytes, title: str | None = None) -> dict[str, Any]:
    """One of packet.json's `documents`; the title defaults to the file's name."""
    return {"path": path, "sha256": sha256(content), "bytes": len(content), "media_type": media_type(path),
            "title": path.rsplit("/", 1)[-1] if title is None else title}


def packet_json_bytes(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, indent=2).encode("utf-8")


def write_folder(root: Path, files: Mapping[str, bytes]) -> Path:
    """Lay the files (path -> bytes, packet.json among them) out under root."""
    root.mkdir(parents=True, exist_ok=True)
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root


def write_zip(path: Path, files: Mapping[str, bytes], *, folder: str | None = None,
              date_time: tuple[int, int, int, int, int, int] | datetime = DEFAULT_ZIP_TIME) -> Path:
    """A zip whose bytes depend only on the files: packet.json first, then by path, one fixed timestamp."""
    stamp = date_time.timetuple()[:6] if isinstance(date_time, datetime) else date_time
    prefix = f"{folder}/" if folder else ""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in sorted(files, key=lambda name: (name != PACKET_FILE, name)):
            info = zipfile.ZipInfo(prefix + name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, files[name])
    return path
