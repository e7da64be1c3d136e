"""Validation of evidence packets (../shared/evidence-packets-v1.md): accepted or refused, with every
issue located, and the typed records of an accepted packet.

Plain package, no Django. validate_packet() takes a packet folder or a .zip of it (extracted with the
intake's safe_extract, under the same archive limits) and returns a PacketReport; it never raises on
what the packet holds. Any issue refuses the packet whole.

The packet's sha256 is the SHA-256 of packet.json's bytes as received: packet.json lists every
other file with its SHA-256, and an accepted packet matches them all, so this one hash pins the whole
packet; it is the same for a folder and for any zip of it (a zip's own bytes vary with timestamps and
compression).

issues.py holds the codes, PacketIssue and PacketReport; header.py packet.json's checks; values.py
the parsers of the records' columns; records.py the streaming read of the records file; packet.py
validate_packet and the checks of the files.
"""

from evidence.packets.validation.header import (
    MAX_PACKET_JSON_BYTES,
    PACKET_ID,
    parse_date,
    salesforce_id_problem,
)
from evidence.packets.validation.issues import (
    ACCEPTED,
    CLIENT_UNLISTED,
    DUPLICATE_KEY,
    ENCODING_INVALID,
    ERROR,
    FIELD_INVALID,
    FILE_MISSING,
    FORMAT_UNKNOWN,
    HASH_MISMATCH,
    HEADER_MISMATCH,
    ISSUE_CODES,
    MAX_LISTED,
    OUT_OF_PERIOD,
    PACKET_UNREADABLE,
    REFUSED,
    REVISION_CONFLICT,
    ROW_COUNT_MISMATCH,
    UNLISTED_FILE,
    UNSAFE_PATH,
    VALUE_INVALID,
    EarlierRevision,
    PacketIssue,
    PacketReport,
)
from evidence.packets.validation.packet import validate_packet
from evidence.packets.validation.records import quarter_bounds

__all__ = [
    "ACCEPTED",
    "CLIENT_UNLISTED",
    "DUPLICATE_KEY",
    "ENCODING_INVALID",
    "ERROR",
    "FIELD_INVALID",
    "FILE_MISSING",
    "FORMAT_UNKNOWN",
    "HASH_MISMATCH",
    "HEADER_MISMATCH",
    "ISSUE_CODES",
    "MAX_LISTED",
    "MAX_PACKET_JSON_BYTES",
    "OUT_OF_PERIOD",
    "PACKET_ID",
    "PACKET_UNREADABLE",
    "REFUSED",
    "REVISION_CONFLICT",
    "ROW_COUNT_MISMATCH",
    "UNLISTED_FILE",
    "UNSAFE_PATH",
    "VALUE_INVALID",
    "EarlierRevision",
    "PacketIssue",
    "PacketReport",
    "parse_date",
    "quarter_bounds",
    "salesforce_id_problem",
    "validate_packet",
]
