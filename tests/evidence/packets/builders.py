"""Small in-memory evidence packets for tests: a valid one of each kind that each test breaks in one way.

Packet holds the files (path -> bytes: the records file, documents/..., anything else) and the
packet.json fields; packet_json() fills in `records` and `documents` from the files, with their
hashes, rows and sizes, unless a test set them itself. write() lays the packet out as a folder,
zip() as an archive. The values are realistic: the sample export's clients and Salesforce ids, real
NDCs with their leading zeros, the sample's contract terms.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence.packets.model import COLUMNS, CONTRACT, PRICING, REBATE, RECORDS_FILE, SALESFORCE
from evidence.packets.writing import (
    csv_bytes,
    document_entry,
    packet_json_bytes,
    records_entry,
    write_folder,
    write_zip,
)

__all__ = ["csv_bytes"]  # re-exported: test_records imports it from here

ACME = "0015e00000Qm7AcAAJ"  # ACME Manufacturing
BLUEWATER = "0015e00000Qm7BwAAJ"  # Bluewater County Schools
CASCADE = "0015e00000Qm7CaAAJ"  # Cascade Health Partners
SUMMIT = "0015e00000Qm7SlAAJ"  # Summit Logistics Group
RIVERBEND = "0015e00000Qn2RvAAJ"  # Riverbend Credit Union, a prospect
MAC_LIST = "LEAF-MAC-2025"
ATORVASTATIN = "00093505601"
LISINOPRIL = "00093111101"
METFORMIN = "00093104801"
APIXABAN = "00003089421"
SITAGLIPTIN = "00006027731"
CONTRACT_PDF = "documents/executed-contract.pdf"


@dataclass
class Packet:
    """A packet in memory: change rows, files or fields, then write() it as a folder or zip() it."""

    kind: str
    rows: list[list[str]]
    fields: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)  # documents and any other file, by path
    header: tuple[str, ...] | None = None  # the records header; the kind's columns when None
    records_bytes: bytes | None = None  # the records file as given, instead of header and rows

    @property
    def records_path(self) -> str:
        return RECORDS_FILE[self.kind]

    def records_content(self) -> bytes:
        if self.records_bytes is not None:
            return self.records_bytes
        return csv_bytes(self.header or COLUMNS[self.kind], self.rows)

    def records_entry(self) -> dict[str, Any]:
        return records_entry(self.records_path, self.records_content())

    def document_entries(self) -> list[dict[str, Any]]:
        return [document_entry(path, content)
                for path, content in sorted(self.files.items()) if path.startswith("documents/")]

    def packet_json(self) -> dict[str, Any]:
        data = copy.deepcopy(self.fields)
        data.setdefault("records", self.records_entry())
        data.setdefault("documents", self.document_entries())
        return data

    def packet_bytes(self) -> bytes:
        return packet_json_bytes(self.packet_json())

    def contents(self) -> dict[str, bytes]:
        """Every file of the packet, packet.json included."""
        return {"packet.json": self.packet_bytes(), self.records_path: self.records_content(), **self.files}

    def write(self, root: Path) -> Path:
        return write_folder(root, self.contents())

    def zip(self, path: Path, *, folder: str | None = None) -> Path:
        return write_zip(path, self.contents(), folder=folder)


def _fields(kind: str, packet_id: str, clients: list[str], reference: str, system: str,
            start: str = "2025-01-01", end: str = "2025-12-31") -> dict[str, Any]:
    return {
        "format": "leaf-evidence/1", "packet_id": packet_id, "kind": kind,
        "source": {"system": system, "reference": reference, "received_at": "2026-11-18T14:02:00Z"},
        "client_account_ids": clients, "period": {"start": start, "end": end},
        "keyed_by": "ana.ferreira@leafhealth.com", "supersedes": None,
    }


def contract_packet() -> Packet:
    """ACME Manufacturing's 2025 contract: six components, combined guarantee, generics priced on the MAC list."""
    terms = [
        # channel, drug class, AWP discount, dispensing fee, rebate per brand claim
        ("retail", "brand", "0.1750", "1.25", "200.00"),
        ("retail", "generic", "0.8200", "1.50", ""),
        ("mail", "brand", "0.2300", "0.00", "325.00"),
        ("mail", "generic", "0.8600", "0.00", ""),
        ("specialty", "brand", "0.1700", "1.25", "1850.00"),
        ("specialty", "generic", "0.5000", "1.25", ""),
    ]
    rows = [["CLM-2024-0113", ACME, f"{channel} {drug_class}", channel, drug_class, awp, fee, rebate, "combined",
             "zero_balance;usual_and_customary", MAC_LIST, "2025-01-01", "2025-12-31"]
            for channel, drug_class, awp, fee, rebate in terms]
    return Packet(
        kind=CONTRACT, rows=rows,
        fields=_fields(CONTRACT, f"EVP-CONTRACT-{ACME}-2025", [ACME], "CLM-2024-0113", "contract-repository"),
        files={CONTRACT_PDF: b"%PDF-1.7\n% Pharmacy Benefit Services Agreement, Exhibit C\n%%EOF\n"},
    )


def pricing_packet() -> Packet:
    """The 2025 MAC list, serving every client on it (client_account_ids empty); one price changes mid-year."""
    rows = [
        [MAC_LIST, ATORVASTATIN, "Atorvastatin Calcium 20 MG Tablet", "0.0712", "2025-01-01", "2025-06-30"],
        [MAC_LIST, ATORVASTATIN, "Atorvastatin Calcium 20 MG Tablet", "0.0650", "2025-07-01", ""],
        [MAC_LIST, LISINOPRIL, "Lisinopril 10 MG Tablet", "0.0305", "2025-01-01", ""],
        [MAC_LIST, METFORMIN, "Metformin HCl 500 MG Tablet", "0.0184", "2024-10-01", ""],
    ]
    return Packet(
        kind=PRICING, rows=rows,
        fields=_fields(PRICING, "EVP-PRICING-LEAF-MAC-2025", [], "MAC-2025-R3", "pbm-pricing-portal"),
        files={"documents/mac-list-2025.xlsx": b"PK\x03\x04 MAC list 2025 release 3"},
    )


def rebate_packet() -> Packet:
    """ACME's rebate invoices for the first quarter of 2025."""
    rows = [
        ["RBI-2025Q1-0042", ACME, "2025Q1", APIXABAN, "Apixaban 5 MG Tablet", "Northfield Pharma", "412",
         "65920.00", "2025-05-15"],
        ["RBI-2025Q1-0042", ACME, "2025Q1", SITAGLIPTIN, "Sitagliptin 100 MG Tablet", "Northfield Pharma", "187",
         "26180.00", "2025-05-15"],
    ]
    return Packet(
        kind=REBATE, rows=rows,
        fields=_fields(REBATE, f"EVP-REBATE-{ACME}-2025Q1", [ACME], "RBI-2025Q1-0042", "rebate-aggregator",
                       "2025-01-01", "2025-03-31"),
        files={"documents/invoice-RBI-2025Q1-0042.pdf": b"%PDF-1.7\n% Rebate invoice RBI-2025Q1-0042\n%%EOF\n"},
    )


def salesforce_packet() -> Packet:
    """The Salesforce accounts of the four clients and the prospect."""
    accounts = [(ACME, "ACME Manufacturing", "Customer"), (BLUEWATER, "Bluewater County Schools", "Customer"),
                (CASCADE, "Cascade Health Partners", "Customer"), (SUMMIT, "Summit Logistics Group", "Customer")]
    rows = [[account_id, name, kind, f"{name} - Benefits", "2025-01-01", "2026-10-02"]
            for account_id, name, kind in accounts]
    rows.append([RIVERBEND, "Riverbend Credit Union", "Prospect", "", "2026-01-01", "2026-09-14"])
    return Packet(
        kind=SALESFORCE, rows=rows,
        fields=_fields(SALESFORCE, "EVP-SALESFORCE-2025", [ACME, BLUEWATER, CASCADE, SUMMIT, RIVERBEND],
                       "report 00O5e000008Accounts", "salesforce"),
    )


PACKETS = {CONTRACT: contract_packet, PRICING: pricing_packet, REBATE: rebate_packet, SALESFORCE: salesforce_packet}
