"""The WIT adapter: converts between the bindings componentize-py generates
for `transforms/wit` (`wit_world`) and this library's types. Imported only
inside the component (`export` resolves it at build time)."""

from componentize_py_types import Err
from wit_world.imports import host
from wit_world.imports import types as t

from . import _log
from .batch import Batch, BatchError, Header
from .output import ColumnKind
from .stage import StageError

_VERDICTS = [t.Verdict.KEEP, t.Verdict.REPLACE, t.Verdict.REJECT, t.Verdict.DROP]
_LEVELS = [t.Level.DEBUG, t.Level.INFO, t.Level.WARN, t.Level.ERROR]
_KINDS = {k: t.ColumnKind[k.name] for k in ColumnKind}
_VALUES = {
    ColumnKind.INT: t.ColumnValues_Int,
    ColumnKind.FLOAT: t.ColumnValues_Float,
    ColumnKind.TIMESTAMP_MS: t.ColumnValues_TimestampMs,
}


def _host_log(level: int, message: str) -> None:
    host.log(_LEVELS[level], message)


def init(runtime, params: str) -> t.StageInfo:
    _log._sink = _host_log
    try:
        outputs = runtime.init(params)
    except StageError as e:
        raise Err(str(e)) from None
    except Exception as e:  # a bug in __init__: tell the operator where
        raise Err(f"{runtime.name}: init failed: {_describe(e)}") from None
    return t.StageInfo([
        t.OutputDecl(d.name, [t.Column(c.name, _KINDS[c.kind], c.nullable) for c in d.columns])
        for d in outputs
    ])


def process(runtime, b: t.Batch) -> t.BatchOutput:
    headers = b.headers
    if headers:
        headers = [Header(h.key, h.value) for h in headers]
    try:
        batch = Batch._from_columns(b.topic, b.partition, b.offsets, b.timestamps, b.key_lens, b.keys,
                                    b.value_lens, b.values, b.header_counts, headers)
        out = runtime.process(batch)
    except (StageError, BatchError) as e:
        raise Err(str(e)) from None
    # Any other exception escapes: the module traps (the traceback goes to
    # stderr, which the host logs) and the host isolates the record.
    verdicts, replacements, lens, reasons, sets = out._answer()
    return t.BatchOutput(
        verdicts=list(map(_VERDICTS.__getitem__, verdicts)),
        replacements=replacements,
        replacement_lens=lens,
        reasons=reasons,
        rows=[t.Rows(output, count, sources, [_column(k, c) for k, c in columns], nulls)
              for output, count, sources, columns, nulls in sets],
    )


def _column(kind, values):
    if kind is ColumnKind.TEXT:
        return t.ColumnValues_Text(t.TextValues(*values))
    if kind is ColumnKind.BYTES:
        return t.ColumnValues_Bytes(t.BytesValues(*values))
    return _VALUES[kind](values)


def _describe(e: BaseException) -> str:
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" ({tb.tb_frame.f_code.co_filename}, line {tb.tb_lineno})" if tb is not None else ""
    return f"{type(e).__name__}: {e}{where}"
