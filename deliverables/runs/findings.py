"""A run's decided findings (the DuckDB table `run_findings`, left by compute.calculate) read out once, in their
order: their canonical text hashed, and the same rows handed to whoever writes the findings artifact. Plain
module, no Django.

`overpayment_exact` is the exact overpayment of an authorized or indicative finding (none when not concluded):
the findings totals add these and round once; `overpayment` / `indicative_overpayment` are the finding's own
amount, rounded once to cents."""
from __future__ import annotations

import hashlib
from collections.abc import Callable

HASH_BATCH = 100_000  # findings lines hashed at a time
FINDINGS_COLUMNS = ("kind", "client_account_id", "claim_id", "fill_date", "ndc", "pharmacy_npi", "channel",
                    "drug_class", "paid", "allowed", "reference", "claim_row", "term_source", "price_source",
                    "decision", "overpayment", "indicative_overpayment", "flag_key", "conflict",
                    "overpayment_exact")


def hash_and_write(con, write: Callable | None = None) -> tuple[str, object]:
    """One ordered pass over the findings (kind, client_account_id, claim_id: unique here). Their canonical text,
    every column as text (`~` for none), `|`-joined, one line each (newline-separated, none after the last), is
    hashed as the batches stream out of DuckDB, from the lines' bytes as Arrow holds them (no Python string per
    finding; millions of findings are never all held). When `write` is given, the same batches (the findings'
    columns, FINDINGS_COLUMNS) go to it as a RecordBatchReader while they are hashed: the findings artifact is
    written from the pass that hashes it, not from a second sort. Returns (sha256, what `write` returned)."""
    import numpy as np
    import pyarrow as pa

    fields = ", ".join(f"COALESCE(CAST({c} AS VARCHAR), '~')" for c in FINDINGS_COLUMNS)
    reader = con.sql(f"SELECT {', '.join(FINDINGS_COLUMNS)}, CHR(10) || CONCAT_WS('|', {fields}) AS __line "
                     "FROM run_findings ORDER BY kind, client_account_id, claim_id").to_arrow_reader(HASH_BATCH)
    width = len(FINDINGS_COLUMNS)
    schema = pa.schema(list(reader.schema)[:width])
    digest = hashlib.sha256()
    skip = 1  # each line is read with the newline before it; the first line has none
    finished = False

    def batches():
        nonlocal skip, finished
        for batch in reader:
            if batch.num_rows:
                lines = batch.column(width).cast(pa.large_binary())
                offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
                first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
                digest.update(memoryview(lines.buffers()[2])[first + skip:last])
                skip = 0
            yield pa.RecordBatch.from_arrays(batch.columns[:width], schema=schema)
        finished = True

    stream = pa.RecordBatchReader.from_batches(schema, batches())
    written = None
    if write is None:
        for _ in stream:
            pass
    else:
        written = write(stream)
    if not finished:  # a hash of part of the findings, or an artifact of part of them: neither is kept
        raise RuntimeError("the findings writer returned before the last finding; nothing is stored")
    return digest.hexdigest(), written
