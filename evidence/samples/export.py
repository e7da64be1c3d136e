"""Sample Leaf IQ exports (format leafiq-export/1) for a pharmacy-benefit client.

`write_sample_export(out, rows=..., seed=..., variant=...)` writes a folder export that follows
/work/shared/leafiq-export-v1.md exactly. Everything comes from `random.Random` instances seeded
from `seed` (one stream per concern, so ids and contract terms do not move when `rows` changes)
and from `exported_at`; the wall clock is never read, so one seed gives byte-identical files,
manifest included. `write_export_zip` packs a folder into a deterministic zip.

What is inside
--------------
Seven datasets (both metadata shapes: internal for claims, MAC pricing and the Magic ETL output;
public for the others):

- PBM Claims 2025: `rows` claims of four client accounts in plan year 2025, streamed to data.csv
  row by row. Channels retail/mail/specialty, about 20% brand, NDCs as 11-digit text, AWP unit
  price, ingredient cost = AWP x quantity x (1 - discount) with noise or, for generics, the MAC
  price (2% of generic claims paid above MAC), dispensing fees (4% above contract), member and
  plan paid. About 1.5% of claims have no AWP on file (empty field = NULL), generics cheaper than
  the copay are zero-balance (plan paid 0.00), 1.5% of claims are reversed and rebilled (three
  rows, one Claim ID: PAID, REVERSED with negated quantity and amounts, PAID), 0.3% are billed
  twice under a new Claim ID (a duplicate-claim audit finding).
- Contract Terms 2025 (per client x channel x brand/generic: AWP discount guarantee, dispensing
  fee guarantee, rebate per brand claim, period), MAC Pricing (per generic NDC, with effective and
  end dates), Rebate Invoices 2025 (per client, quarter and brand NDC, built from the claims),
  Salesforce Accounts (account id, name, Domo group).
- Guarantee Reconciliation 2025 (output of the MySQL DataFlow) and Brand Scripts by Quarter
  (output of the Magic ETL DataFlow), computed here exactly as their SQL and actions state.

PDP policies on four datasets (claims and reconciliation in the public shape, contract terms and
rebate invoices in the internal shape), each with an "All Rows" open policy and user/group
policies keyed on the client account (one with `not`, one with two values). directory/users.json
and groups.json hold every user and group the policies name.

Ten cards (`CARDS`) using the beast modes of `BEAST_MODES`: ten flawed formulas covering the
eight flaw codes (`PLANTED_FLAWS`) and ten clean ones (`CLEAN_FORMULAS`), among them a window
function and a FIXED function. Nine cards carry golden.csv; "Guarantee Shortfall by Component"
never has one. Card definitions are shaped as Domo's internal API returns them: `formulas` an object
(`card`, `dsUpdated`, `dsDeleted`) on cards with beast modes and a bare list on the others, the
top-level `columns[]` listing the dataset's columns and the beast modes the card can use
(`{id, name, type, sourceId, isCalculation, ...}`), and keys the format does not name (`urn`,
`modified`, `drillpath`, `conditionalFormats`, `annotations`, `slicers`, `segments`, `chartVersion`,
`allowTableDrill`, ...), some of them with content.

Golden outputs: what Domo shows
-------------------------------
Computed from running per-group totals (flat memory), with Domo's semantics, flaws included, as
the export account (a Domo admin, so PDP hides no row) saw them:
- a beast mode without aggregate is row-level and the card SUMs it per group ("Claim Discount
  Rate" is a sum of per-claim ratios); aggregates skip NULLs; SUM over no value is NULL (empty);
- `CASE WHEN SUM(..) > 250000` compares each group's sum;
- `CURDATE()` is the UTC date of the card's `golden_captured_at`;
- `YEAR('Fill Date')` is YEAR of a string literal: NULL, shown as an empty cell;
- `MAX(`Period End`) - MIN(`Period Start`) + 1` follows MySQL: dates subtract as YYYYMMDD numbers
  (20251231 - 20250101 + 1 = 1131, not 365);
- window and FIXED totals are taken over the rows the card's filters keep;
- month grain shows the first day of the month (`YYYY-MM-01`).
Values are formatted deterministically: money (DECIMAL sums) with two decimals, exact; counts as
integers; DOUBLE results rounded to six decimals; NULL as an empty field. Rows follow the card's
orderBy.

Variants
--------
- `complete`: status complete, nothing missing, every file listed with its hash and size.
- `partial`: status partial; `missing` names the golden of "Brand Rebate Estimate" (card render
  timed out) and the policies of Rebate Invoices 2025 (403 on the PDP endpoint). Those two files
  are absent and unlisted, the manifest entries have no `golden`/`policies` key; everything
  present is correct.
- `invalid`: the exporter still says complete, but (1) the golden.csv of "Effective Discount by
  Client" was altered after hashing (one digit changed, same size: HASH_MISMATCH only) and (2) the
  claims data.csv has `Fill Date` = `2025-02-30` on data row min(42, rows) (the listed hash
  matches the file: CSV_BAD_VALUE only).

Money is exact: the claims loop works in scaled integers (cents, AWP in 1e-5 dollars, quantity in
thousandths) because it runs millions of times; every other amount is a Decimal.
"""
from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

# The generator's parts live in evidence/samples/, split by sub-domain; this stays a module rather than
# becoming the package because tests locate the repository from this file's path (test_sample_export).
from evidence.samples.catalogue import (
    AGGREGATE_IN_CASE_CONDITION,
    AGGREGATE_OF_ROW_RATIO,
    BEAST_MODES,
    BEAST_MODES_BY_KEY,
    BRAND_SCRIPTS,
    CARDS,
    CARDS_BY_KEY,
    CLAIMS,
    CLEAN_FORMULAS,
    CONTRACT_TERMS,
    COUNT_NOT_DISTINCT_ON_ID,
    DATE_ARITHMETIC,
    FLAW_CODES,
    HARDCODED_ASSUMPTION,
    INVALID_BAD_DATE,
    INVALID_BAD_ROW,
    INVALID_TAMPERED_GOLDEN,
    MAC_PRICING,
    NON_DETERMINISTIC,
    PARTIAL_MISSING_GOLDEN,
    PARTIAL_MISSING_POLICIES,
    PLANTED_FLAWS,
    REBATE_INVOICES,
    RECONCILIATION,
    SALESFORCE_ACCOUNTS,
    STRING_LITERAL_AS_COLUMN,
    UNGUARDED_DIVISION,
    BeastMode,
    CardSpec,
    Col,
    PlantedFlaw,
)
from evidence.samples.claims import (
    T_AWP_EXT,
    T_DISTINCT,
    T_FEE,
    T_FEE_AWP,
    T_ICP,
    T_ICP_AWP,
    T_MAX_DAY,
    T_NET,
    T_NET_AWP,
    T_QTY,
    T_RATIO_N,
    T_RATIO_SUM,
    T_ROWS,
    _write_claims,
)
from evidence.samples.datasets import (
    _brand_script_rows,
    _contract_rows,
    _invoice_rows,
    _mac_rows,
    _rebate_invoices,
    _reconciliation_rows,
    _salesforce_rows,
)
from evidence.samples.golden import _golden
from evidence.samples.helpers import CENT, SIX_PLACES, _csv_bytes, _Files, _iso, _json_bytes
from evidence.samples.objects import (
    _card_definition,
    _dataflows,
    _dataset_metadata,
    _groups,
    _policies,
    _users,
)
from evidence.samples.world import (
    BRAND,
    CHANNELS,
    CLIENTS,
    DRUGS,
    GENERIC,
    PLAN_YEAR,
    PROSPECT,
    Client,
    Drug,
    _build_world,
)

FORMAT = "leafiq-export/1"
DOMO_INSTANCE = "leafhealth.domo.com"
EXPORTER = {"name": "leaf-iq", "version": "4.2.0"}
DEFAULT_EXPORTED_AT = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
VARIANTS = ("complete", "partial", "invalid")

__all__ = [
    "AGGREGATE_IN_CASE_CONDITION",
    "AGGREGATE_OF_ROW_RATIO",
    "BEAST_MODES",
    "BEAST_MODES_BY_KEY",
    "BRAND",
    "BRAND_SCRIPTS",
    "CARDS",
    "CARDS_BY_KEY",
    "CENT",
    "CHANNELS",
    "CLAIMS",
    "CLEAN_FORMULAS",
    "CLIENTS",
    "CONTRACT_TERMS",
    "COUNT_NOT_DISTINCT_ON_ID",
    "DATE_ARITHMETIC",
    "DEFAULT_EXPORTED_AT",
    "DOMO_INSTANCE",
    "DRUGS",
    "EXPORTER",
    "FLAW_CODES",
    "FORMAT",
    "GENERIC",
    "HARDCODED_ASSUMPTION",
    "INVALID_BAD_DATE",
    "INVALID_BAD_ROW",
    "INVALID_TAMPERED_GOLDEN",
    "MAC_PRICING",
    "NON_DETERMINISTIC",
    "PARTIAL_MISSING_GOLDEN",
    "PARTIAL_MISSING_POLICIES",
    "PLANTED_FLAWS",
    "PLAN_YEAR",
    "PROSPECT",
    "REBATE_INVOICES",
    "RECONCILIATION",
    "SALESFORCE_ACCOUNTS",
    "SIX_PLACES",
    "STRING_LITERAL_AS_COLUMN",
    "T_AWP_EXT",
    "T_DISTINCT",
    "T_FEE",
    "T_FEE_AWP",
    "T_ICP",
    "T_ICP_AWP",
    "T_MAX_DAY",
    "T_NET",
    "T_NET_AWP",
    "T_QTY",
    "T_RATIO_N",
    "T_RATIO_SUM",
    "T_ROWS",
    "UNGUARDED_DIVISION",
    "VARIANTS",
    "BeastMode",
    "CardSpec",
    "Client",
    "Col",
    "Drug",
    "PlantedFlaw",
    "SampleExportSummary",
    "load_id_for",
    "write_export_zip",
    "write_sample_export",
]


# --- the export ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleExportSummary:
    """What `write_sample_export` wrote."""

    load_id: str
    path: Path
    variant: str
    status: str
    rows: int
    datasets: dict[str, str]  # role -> dataset id
    cards: dict[str, int]  # card key -> card id
    dataflows: dict[str, int]
    goldens: tuple[int, ...]  # card ids with a golden.csv in the export
    missing: tuple[dict, ...]
    defects: tuple[str, ...]  # what the invalid variant broke, as format problem codes with their file
    planted_flaws: tuple[PlantedFlaw, ...]
    files: int
    bytes: int


# Each variant numbers its load ids in its own range, so that the partial and invalid samples of a seed never
# reuse the load id of that seed's complete sample (which `make run` has already ingested: LOAD_ID_CONFLICT).
VARIANT_LOAD_OFFSETS = {"complete": 0, "partial": 5000, "invalid": 8000}


def load_id_for(exported_at: datetime, seed: int, variant: str = "complete") -> str:
    number = (seed + VARIANT_LOAD_OFFSETS[variant]) % 10000
    return f"LIQ-{exported_at.astimezone(timezone.utc):%Y%m%d}-{number:04d}"


def write_sample_export(out: Path, *, rows: int = 5000, seed: int = 7, variant: str = "complete",
                        exported_at: datetime = DEFAULT_EXPORTED_AT) -> SampleExportSummary:
    """Write a sample export folder at `out` (which must not exist or be empty)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if exported_at.tzinfo is None:
        raise ValueError("exported_at must be timezone-aware")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder")
    # Write beside the target and rename at the end, so an interrupted run never leaves a
    # half-written export where a reader expects a whole one.
    staging = out.parent / f".{out.name}.writing"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)

    world = _build_world(seed, exported_at)
    files = _Files(staging)
    ds = world.datasets
    bad_row = min(INVALID_BAD_ROW, rows) if variant == "invalid" else None
    totals = _write_claims(files, world, rows, bad_row)

    invoices = _rebate_invoices(world, totals)
    small = {
        CONTRACT_TERMS: _contract_rows(world),
        MAC_PRICING: _mac_rows(world),
        REBATE_INVOICES: _invoice_rows(world, invoices),
        SALESFORCE_ACCOUNTS: _salesforce_rows(world),
        RECONCILIATION: _reconciliation_rows(world, totals),
        BRAND_SCRIPTS: _brand_script_rows(totals),
    }
    for role, data_rows in small.items():
        ds[role].rows = len(data_rows)
        files.write(f"{ds[role].folder}/data.csv", _csv_bytes([name for name, _ in ds[role].columns], data_rows))

    missing: list[dict] = []
    skip_policies = PARTIAL_MISSING_POLICIES if variant == "partial" else None
    skip_golden = PARTIAL_MISSING_GOLDEN if variant == "partial" else None
    manifest_datasets = []
    for role, dataset in ds.items():
        persisted = [bm for bm in BEAST_MODES if bm.dataset == role and bm.persisted]
        files.write(f"{dataset.folder}/metadata.json", _json_bytes(_dataset_metadata(world, dataset, persisted)))
        entry = {"id": dataset.id, "metadata": f"{dataset.folder}/metadata.json", "data": f"{dataset.folder}/data.csv"}
        if dataset.policy_shape:
            if role == skip_policies:
                missing.append({"kind": "policies", "id": dataset.id,
                                "reason": "403 Forbidden from the PDP endpoint: the export account is not a "
                                          "dataset owner"})
            else:
                files.write(f"{dataset.folder}/policies.json", _json_bytes(_policies(world, dataset)))
                entry["policies"] = f"{dataset.folder}/policies.json"
        manifest_datasets.append(entry)

    manifest_cards = []
    goldens = []
    for number, card in enumerate(CARDS):
        card_id = world.card_ids[card.key]
        folder = f"cards/{card_id}"
        files.write(f"{folder}/definition.json", _json_bytes(_card_definition(world, card)))
        entry = {"id": card_id, "definition": f"{folder}/definition.json"}
        if card.golden:
            captured_at = exported_at - timedelta(seconds=109 - 4 * number)
            if card.key == skip_golden:
                missing.append({"kind": "golden", "id": card_id, "reason": "card render timed out after 120 s"})
            else:
                header = [col.header for col in card.columns]
                files.write(f"{folder}/golden.csv",
                            _csv_bytes(header, _golden(card, world, totals, invoices, captured_at)))
                entry["golden"] = f"{folder}/golden.csv"
                entry["golden_captured_at"] = _iso(captured_at)
                goldens.append(card_id)
        manifest_cards.append(entry)

    manifest_flows = []
    for key, flow in _dataflows(world).items():
        files.write(f"dataflows/{flow['id']}.json", _json_bytes(flow))
        manifest_flows.append({"id": flow["id"], "definition": f"dataflows/{flow['id']}.json"})

    files.write("directory/users.json", _json_bytes(_users(world)))
    files.write("directory/groups.json", _json_bytes(_groups(world)))

    load_id = load_id_for(exported_at, seed, variant)
    manifest = {
        "format": FORMAT,
        "load_id": load_id,
        "exported_at": _iso(exported_at),
        "domo_instance": DOMO_INSTANCE,
        "exporter": dict(EXPORTER),
        "status": "partial" if missing else "complete",
        "missing": missing,
        "files": [{"path": path, "sha256": sha, "bytes": size} for path, (sha, size) in sorted(files.listed.items())],
        "datasets": manifest_datasets,
        "cards": manifest_cards,
        "dataflows": manifest_flows,
        "directory": {"users": "directory/users.json", "groups": "directory/groups.json"},
    }
    (staging / "manifest.json").write_bytes(_json_bytes(manifest))

    defects: list[str] = []
    if variant == "invalid":
        golden_path = f"cards/{world.card_ids[INVALID_TAMPERED_GOLDEN]}/golden.csv"
        _tamper_one_digit(staging / golden_path)
        defects.append(f"HASH_MISMATCH {golden_path}")
        defects.append(f"CSV_BAD_VALUE {ds[CLAIMS].folder}/data.csv row {bad_row} column Fill Date")

    if out.exists():
        out.rmdir()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(out)
    return SampleExportSummary(
        load_id=load_id,
        path=out,
        variant=variant,
        status=manifest["status"],
        rows=rows,
        datasets={role: dataset.id for role, dataset in ds.items()},
        cards=dict(world.card_ids),
        dataflows=dict(world.dataflow_ids),
        goldens=tuple(goldens),
        missing=tuple(missing),
        defects=tuple(defects),
        planted_flaws=PLANTED_FLAWS,
        files=len(files.listed),
        bytes=sum(size for _sha, size in files.listed.values()),
    )


def _tamper_one_digit(path: Path) -> None:
    """Change the first digit of the first data row (same size, so only the hash differs)."""
    data = bytearray(path.read_bytes())
    start = data.index(b"\n") + 1
    for position in range(start, len(data)):
        if chr(data[position]).isdigit():
            data[position] = ord(str((int(chr(data[position])) + 1) % 10))
            break
    path.write_bytes(bytes(data))


def write_export_zip(folder: Path, zip_path: Path, *, date_time: datetime = DEFAULT_EXPORTED_AT) -> Path:
    """Pack an export folder into a zip whose bytes depend only on the folder's files."""
    folder, zip_path = Path(folder), Path(zip_path)
    stamp = date_time.astimezone(timezone.utc).timetuple()[:6]
    members = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    members.sort(key=lambda name: (name != "manifest.json", name))
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            with (folder / name).open("rb") as source, archive.open(info, "w", force_zip64=True) as target:
                shutil.copyfileobj(source, target, 1 << 20)
    return zip_path
