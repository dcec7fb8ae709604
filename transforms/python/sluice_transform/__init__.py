"""Sluice transforms in Python: a stage gets batches of Kafka records and
answers one verdict per record (keep, replace, reject, drop) plus typed rows
for the sink. Same shape as the Rust SDK (transforms/sdk).

    from sluice_transform import Batch, ColumnKind, Output, OutputDecl, Transform, export

    class MyStage(Transform): ...
    Stage = export(MyStage)   # what componentize-py exports

Pure Python: stages run natively in unit tests (`run(MyStage, Batch.from_values([...]))`);
`_wit` converts from and to the WIT types inside the component only.
"""

from ._log import Level, debug, error, info, log, warn
from .batch import NO_KEY, NO_TIMESTAMP, Batch, BatchError, Header, Record
from .output import Column, ColumnKind, Output, OutputDecl, Row, Verdict
from .stage import Runtime, StageError, Transform, export, parse_params, run

#: The contract version (WIT package `sluice:transform`) this library implements.
CONTRACT_VERSION = "0.3.0"

__all__ = [
    "Batch", "BatchError", "Column", "ColumnKind", "CONTRACT_VERSION", "Header", "Level", "NO_KEY",
    "NO_TIMESTAMP", "Output", "OutputDecl", "Record", "Row", "Runtime", "StageError", "Transform",
    "Verdict", "debug", "error", "export", "info", "log", "parse_params", "run", "warn",
]
