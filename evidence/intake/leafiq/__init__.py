"""Leaf IQ export objects: typed readers for the Domo responses an export holds.

Plain package, no Django, no third-party imports. Leaf IQ stores Domo's API responses as they came,
and Domo has two API families that name the same things differently (see
../shared/leafiq-export-v1.md); every reader here accepts both and returns one frozen dataclass, so
nothing downstream needs to know which API a file came from. A reader that meets something it
cannot read raises LeafIQFormatError naming the file, the object and the field.

Where the format leaves a shape open (card filters, sort and date grain, Magic ETL tiles, directory
entries), the readers take what they recognise and ignore the rest rather than refuse the file:
only what the format names is required. Domo's responses carry many keys the format does not name (a
card's urn, conditionalFormats, annotations, slicers, segments, drillpath, chartVersion...); every
reader ignores them, and the file itself is kept whole in bronze. A part the format marks optional may
be absent.

model.py holds the format's constants, LeafIQFormatError and the dataclasses; json.py the JSON
reading helpers and _Node, the cursor every reader uses; readers.py one parse_* function (a JSON
value) and one read_* function (a file) per kind of object.
"""

from evidence.intake.leafiq.json import (
    json_kind,
    load_json,
    parse_json,
    parse_timestamp,
)
from evidence.intake.leafiq.model import (
    BEAST_MODE_ORIGINS,
    CARD_COLUMN_TYPES,
    COLUMN_TYPES,
    DATAFLOW_TYPES,
    FORMAT,
    MAX_JSON_BYTES,
    MISSING_KINDS,
    PDP_OPERATORS,
    POLICY_TYPES,
    BeastMode,
    CardColumn,
    CardDatasetColumn,
    CardDatasource,
    CardDefinition,
    CardEntry,
    CardFilter,
    CardOrder,
    Column,
    Dataflow,
    DataflowAction,
    DataflowEndpoint,
    DataflowEntry,
    DataflowExecution,
    DatasetEntry,
    DatasetMetadata,
    DateGrain,
    DirectoryGroup,
    DirectoryUser,
    LeafIQFormatError,
    Manifest,
    ManifestFile,
    MissingObject,
    Policy,
    PolicyFilter,
    Subscription,
)
from evidence.intake.leafiq.readers import (
    parse_card_definition,
    parse_dataflow,
    parse_dataset_metadata,
    parse_groups,
    parse_policies,
    parse_policy,
    parse_users,
    read_card_definition,
    read_dataflow,
    read_dataset_metadata,
    read_groups,
    read_policies,
    read_users,
)

__all__ = [
    "BEAST_MODE_ORIGINS",
    "CARD_COLUMN_TYPES",
    "COLUMN_TYPES",
    "DATAFLOW_TYPES",
    "FORMAT",
    "MAX_JSON_BYTES",
    "MISSING_KINDS",
    "PDP_OPERATORS",
    "POLICY_TYPES",
    "BeastMode",
    "CardColumn",
    "CardDatasetColumn",
    "CardDatasource",
    "CardDefinition",
    "CardEntry",
    "CardFilter",
    "CardOrder",
    "Column",
    "Dataflow",
    "DataflowAction",
    "DataflowEndpoint",
    "DataflowEntry",
    "DataflowExecution",
    "DatasetEntry",
    "DatasetMetadata",
    "DateGrain",
    "DirectoryGroup",
    "DirectoryUser",
    "LeafIQFormatError",
    "Manifest",
    "ManifestFile",
    "MissingObject",
    "Policy",
    "PolicyFilter",
    "Subscription",
    "json_kind",
    "load_json",
    "parse_card_definition",
    "parse_dataflow",
    "parse_dataset_metadata",
    "parse_groups",
    "parse_json",
    "parse_policies",
    "parse_policy",
    "parse_timestamp",
    "parse_users",
    "read_card_definition",
    "read_dataflow",
    "read_dataset_metadata",
    "read_groups",
    "read_policies",
    "read_users",
]
