"""Sample evidence packets (format leaf-evidence/1, /work/shared/evidence-packets-v1.md) consistent with
the sample export of the same seed: what Leaf Health's systems of record would send for the clients the
export's Domo datasets describe.

`write_sample_evidence(out, seed=..., rows=..., zip=...)` writes one packet per folder under `out`
(`out/<packet_id>/`), or one deterministic zip per packet (`out/<packet_id>.zip`). The records come from
the export generator's own parts for the seed (evidence_records.py): the contract packets from Domo's
Contract Terms rows, the price file from MAC Pricing, the rebate statements from Rebate Invoices (built
from the claims, so give the export's `rows`), the Salesforce report from Salesforce Accounts. Each
packet holds one text document (documents/*.txt) rendering its records, listed with its hash.

The gaps a real takeover has, named by the summary:
- a client with no contract packet at all (only Domo's candidate terms exist in the export);
- a contract packet that is present and accepted but that the demo leaves unverified;
- a price file missing one NDC's mid-year price row, so no price is in force on those days;
- one client's rebate invoices missing for one quarter (the export has them; no packet does);
- a contract amended mid-year: a second packet whose `supersedes` names the first, its period
  starting on AMENDMENT_START, one component's AWP discount guarantee raised (Domo never saw it).

Same seed, same rows: the same bytes, folder or zip (fixed member order and timestamps).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from evidence.packets.model import COLUMNS, PACKET_FILE, RECORDS_FILE
from evidence.packets.writing import (
    csv_bytes,
    document_entry,
    packet_json_bytes,
    records_entry,
    write_folder,
    write_zip,
)
from evidence.samples.evidence_records import (
    AMENDMENT_START,
    PricingGap,
    SamplePacket,
    build_sample_book,
)
from evidence.samples.export import DEFAULT_EXPORTED_AT

__all__ = ["AMENDMENT_START", "PricingGap", "SampleEvidenceSummary", "write_sample_evidence"]


@dataclass(frozen=True)
class SampleEvidenceSummary:
    """What `write_sample_evidence` wrote, and the gaps it planted."""

    path: Path
    seed: int
    rows: int  # the claims rows of the export these packets match
    zip: bool
    packets: tuple[tuple[str, str, Path], ...]  # (packet_id, kind, folder or zip), in writing order
    client_without_contract: str  # account id: no contract packet, only Domo's candidate terms
    unverified_packet_id: str  # accepted, but the demo leaves it unverified (candidate, never governed)
    amended_packet_id: str  # the contract the amendment supersedes
    amendment_packet_id: str
    amendment_start: date
    pricing_gap: PricingGap  # one NDC without a price in force from first_day to last_day
    missing_rebate: tuple[str, str]  # (account id, quarter) without rebate invoices
    files: int
    bytes: int

    def gaps(self) -> list[str]:
        gap = self.pricing_gap
        return [
            f"no contract packet for client {self.client_without_contract} (only Domo's candidate terms)",
            f"{self.unverified_packet_id} is left unverified by the demo",
            f"{gap.price_list} has no price for NDC {gap.ndc} ({gap.drug_name}) from {gap.first_day} "
            f"to {gap.last_day}",
            f"no rebate invoices for client {self.missing_rebate[0]} in {self.missing_rebate[1]}",
            f"{self.amendment_packet_id} supersedes {self.amended_packet_id} from {self.amendment_start}",
        ]


def packet_files(packet: SamplePacket) -> dict[str, bytes]:
    """Every file of a sample packet, packet.json (with its records and documents entries) first."""
    records_path = RECORDS_FILE[packet.kind]
    records = csv_bytes(COLUMNS[packet.kind], packet.rows)
    document = ("\n".join(packet.document_lines) + "\n").encode("utf-8")
    data = dict(packet.fields)
    data["records"] = records_entry(records_path, records)
    data["documents"] = [document_entry(packet.document_path, document, packet.document_title)]
    return {PACKET_FILE: packet_json_bytes(data), records_path: records, packet.document_path: document}


def write_sample_evidence(out: Path, *, seed: int = 7, rows: int = 5000, zip: bool = False,
                          exported_at: datetime = DEFAULT_EXPORTED_AT) -> SampleEvidenceSummary:
    """Write the sample packets under `out` (which must not exist or be empty); `seed`, `rows` and
    `exported_at` as given to write_sample_export, whose export these packets match."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder")
    book = build_sample_book(seed=seed, rows=rows, exported_at=exported_at)
    # Write beside the target and rename at the end: never a half-written set where a reader expects one.
    staging = out.parent / f".{out.name}.writing"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    written, files, size = [], 0, 0
    for packet in book.packets:
        contents = packet_files(packet)
        if zip:
            target = write_zip(staging / f"{packet.packet_id}.zip", contents, folder=None, date_time=exported_at)
            files, size = files + 1, size + target.stat().st_size
            name = target.name
        else:
            write_folder(staging / packet.packet_id, contents)
            files, size = files + len(contents), size + sum(len(content) for content in contents.values())
            name = packet.packet_id
        written.append((packet.packet_id, packet.kind, out / name))
    if out.exists():
        out.rmdir()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(out)
    return SampleEvidenceSummary(
        path=out, seed=seed, rows=rows, zip=zip, packets=tuple(written),
        client_without_contract=book.client_without_contract, unverified_packet_id=book.unverified_packet_id,
        amended_packet_id=book.contract_packet_id, amendment_packet_id=book.amendment_packet_id,
        amendment_start=AMENDMENT_START, pricing_gap=book.pricing_gap, missing_rebate=book.missing_rebate,
        files=files, bytes=size,
    )
