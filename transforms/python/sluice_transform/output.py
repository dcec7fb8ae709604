"""What a stage returns: one verdict per record, and side-output rows.

`Output` collects the answer in the shape it crosses the boundary in: the
verdicts as a list, new values and reasons in order, and rows per output as
plain tuples that are turned into columns (and checked against the
declaration) once, after `process`.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import NamedTuple

# Verdicts, as numbered in the WIT `verdict` enum.
KEEP, REPLACE, REJECT, DROP = 0, 1, 2, 3
_VERDICT_NAMES = ("keep", "replace", "reject", "drop")


class ColumnKind(Enum):
    """The kind of a side-output column (WIT `column-kind`)."""

    INT = "int"
    FLOAT = "float"
    TEXT = "text"
    BYTES = "bytes"
    #: Milliseconds since the Unix epoch, UTC (an int, or an aware datetime).
    TIMESTAMP_MS = "timestamp-ms"


class Column(NamedTuple):
    name: str
    kind: ColumnKind
    nullable: bool = False


@dataclass
class OutputDecl:
    """A named side output and its columns, in row order::

        OutputDecl("sessions").column("session_id", ColumnKind.TEXT).nullable_column("note", ColumnKind.TEXT)
    """

    name: str
    columns: list[Column] = field(default_factory=list)

    def column(self, name: str, kind: ColumnKind | str, nullable: bool = False) -> "OutputDecl":
        """Adds a column (never None unless `nullable`)."""
        self.columns.append(Column(name, ColumnKind(kind), nullable))
        return self

    def nullable_column(self, name: str, kind: ColumnKind | str) -> "OutputDecl":
        """Adds a column that may hold None."""
        return self.column(name, kind, True)


class Verdict(NamedTuple):
    """One record's verdict, for tests: `Verdict.keep()`, `Verdict.replace(b"...")`,
    `Verdict.reject("why")`, `Verdict.drop()`."""

    kind: str
    #: The new value (replace) or the reason (reject).
    value: bytes | str | None = None

    @classmethod
    def keep(cls):
        return cls("keep")

    @classmethod
    def replace(cls, value: bytes | str):
        return cls("replace", value.encode() if isinstance(value, str) else bytes(value))

    @classmethod
    def reject(cls, reason: str):
        return cls("reject", reason)

    @classmethod
    def drop(cls):
        return cls("drop")


class Row(NamedTuple):
    """One side-output row, for tests."""

    output: int
    #: Index of the record the row belongs to, None for an aggregate.
    source: int | None
    values: tuple


class _RowSet:
    """Rows of one output, either all tied to records or all aggregates."""

    __slots__ = ("output", "decl", "rows", "sources")

    def __init__(self, output, decl, tied):
        self.output = output
        self.decl = decl
        self.rows = []
        self.sources = [] if tied else None


class Output:
    """Collects a stage's answer to one batch. Per record, in order, call one
    of `keep()`, `replace(value)`, `reject(reason)`, `drop()`; `emit()` adds
    side-output rows. The answer is checked before it leaves the module."""

    __slots__ = ("_verdicts", "_replacements", "_reasons", "_decls", "_names",
                 "_sets", "_set_list", "_error", "_emitted", "_sealed")

    def __init__(self, outputs=()):
        """`outputs`: the stage's declared outputs (`Transform.outputs()`)."""
        self._verdicts: list[int] = []
        self._replacements: list[bytes] = []
        self._reasons: list[str] = []
        self._decls: list[OutputDecl] = list(outputs)
        self._names = {d.name: i for i, d in enumerate(self._decls)}
        self._sets: dict = {}
        self._set_list: list[_RowSet] = []
        self._error: str | None = None
        self._emitted = 0
        self._sealed = None

    def keep(self) -> None:
        """Pass the next record on unchanged."""
        self._verdicts.append(KEEP)

    def replace(self, value: bytes | str) -> None:
        """Pass the next record on with a new value (str is encoded as UTF-8)."""
        if type(value) is not bytes:
            if isinstance(value, str):
                value = value.encode()
            elif isinstance(value, (bytearray, memoryview)):
                value = bytes(value)
            else:
                self._fail(f"verdict {len(self._verdicts)}: replace needs bytes or str, got {_type(value)}")
                value = b""
        self._replacements.append(value)
        self._verdicts.append(REPLACE)

    def reject(self, reason: str) -> None:
        """Drop the next record and dead-letter it with `reason`."""
        if type(reason) is not str or not reason:
            self._fail(f"verdict {len(self._verdicts)}: reject needs a reason (a non-empty str), got {reason!r}")
            reason = str(reason) or "rejected"
        self._reasons.append(reason)
        self._verdicts.append(REJECT)

    def drop(self) -> None:
        """Drop the next record without a dead letter: not for this pipeline."""
        self._verdicts.append(DROP)

    def emit(self, output: int | str, *values, record=None) -> None:
        """Emit a row on `output` (its index in `outputs()`, or its name), one
        value per declared column (None for null). With `record=` (a Record or
        its index) the row belongs to that record: the sink can bind its
        partition and offset, and drops the row if a later stage rejects it.
        Without it, the row is an aggregate."""
        row = self._emitted
        self._emitted = row + 1
        tied = record is not None
        s = self._sets.get((output, tied))
        if s is None:
            s = self._open(row, output, tied)
            if s is None:
                return
        if len(values) != len(s.decl.columns):
            self._fail(f"row {row}: on output {s.decl.name!r}: {len(values)} values for {len(s.decl.columns)} columns")
            return
        s.rows.append(values)
        if tied:
            s.sources.append(record if type(record) is int else record.index)

    def _open(self, row, output, tied):
        i = self._names.get(output) if isinstance(output, str) else output
        if type(i) is not int or not 0 <= i < len(self._decls):
            declared = ", ".join(f"{n} = {d.name!r}" for n, d in enumerate(self._decls)) or "none"
            self._fail(f"row {row}: output {output!r} is not declared (declared: {declared})")
            return None
        s = self._sets.get((i, tied))
        if s is None:
            s = _RowSet(i, self._decls[i], tied)
            self._set_list.append(s)
            self._sets[(i, tied)] = s
        self._sets[(output, tied)] = s
        return s

    def _fail(self, message):
        if self._error is None:
            self._error = message

    def verdicts(self) -> list[Verdict]:
        """The verdicts so far, with their values and reasons."""
        replacements, reasons = iter(self._replacements), iter(self._reasons)
        out = []
        for v in self._verdicts:
            if v == REPLACE:
                out.append(Verdict("replace", next(replacements)))
            elif v == REJECT:
                out.append(Verdict("reject", next(reasons)))
            else:
                out.append(Verdict(_VERDICT_NAMES[v]))
        return out

    def rows(self) -> list[Row]:
        """Every row, output set after set, each in the order emitted."""
        return [
            Row(s.output, None if s.sources is None else s.sources[r], tuple(values))
            for s in self._set_list
            for r, values in enumerate(s.rows)
        ]

    def check(self, records: int) -> None:
        """Raises ValueError naming the first thing wrong with the answer for
        a batch of `records` records; also turns the rows into columns."""
        if self._error is None:
            n = len(self._verdicts)
            if n != records:
                self._error = f"process gave {n} verdicts for {records} records (one per record is required)"
        if self._error is None and self._sealed is None:
            try:
                self._sealed = [_seal(s) for s in self._set_list]
            except ValueError as e:
                self._error = str(e)
        if self._error is not None:
            raise ValueError(self._error)

    def _answer(self):
        """(verdicts, replacements, replacement lens, reasons, row sets), after `check`.
        A row set is (output, count, sources, [(kind, column)], nulls)."""
        repl = self._replacements
        return (self._verdicts, b"".join(repl), list(map(len, repl)), self._reasons, self._sealed)


def _type(v) -> str:
    return "null" if v is None else type(v).__name__


# Exact types that need no conversion, per kind.
_FAST = {
    ColumnKind.INT: frozenset((int,)),
    ColumnKind.FLOAT: frozenset((float,)),
    ColumnKind.TEXT: frozenset((str,)),
    ColumnKind.BYTES: frozenset((bytes,)),
    ColumnKind.TIMESTAMP_MS: frozenset((int,)),
}
_PLACEHOLDER = {ColumnKind.INT: 0, ColumnKind.FLOAT: 0.0, ColumnKind.TEXT: "",
                ColumnKind.BYTES: b"", ColumnKind.TIMESTAMP_MS: 0}
_NONE = type(None)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_I64 = (-(1 << 63), (1 << 63) - 1)


def _convert(kind, v):
    """`v` as a value of `kind`, or raises TypeError."""
    if kind is ColumnKind.TEXT:
        if isinstance(v, str):
            return str(v)
    elif kind is ColumnKind.BYTES:
        if isinstance(v, (bytes, bytearray, memoryview)):
            return bytes(v)
    elif isinstance(v, bool):
        pass
    elif kind is ColumnKind.FLOAT:
        if isinstance(v, (int, float)):
            return float(v)
    elif isinstance(v, int):
        return int(v)
    elif kind is ColumnKind.TIMESTAMP_MS and isinstance(v, datetime) and v.tzinfo is not None:
        return (v - _EPOCH) // _MS
    raise TypeError


def _seal(s: _RowSet):
    """The rows of `s` as checked columns."""
    decl, rows = s.decl, s.rows
    where = f"on output {decl.name!r}"
    columns, nulls = [], []
    transposed = list(zip(*rows)) if rows else [()] * len(decl.columns)
    for c, (name, kind, nullable) in enumerate(decl.columns):
        col = list(transposed[c])
        types = set(map(type, col))
        fast = _FAST[kind]
        if types <= fast:
            pass
        elif nullable and types <= fast | {_NONE}:
            nulls.extend((c, r) for r, v in enumerate(col) if v is None)
            placeholder = _PLACEHOLDER[kind]
            col = [placeholder if v is None else v for v in col]
        else:
            fixed = []
            for r, v in enumerate(col):
                if v is None and nullable:
                    nulls.append((c, r))
                    v = _PLACEHOLDER[kind]
                else:
                    try:
                        v = _convert(kind, v)
                    except TypeError:
                        of = "" if s.sources is None else f" (record {s.sources[r]})"
                        nul = " (nullable)" if nullable else ""
                        raise ValueError(
                            f"{where}: row {r}{of}: column {name!r} is {kind.value}{nul}, got {_type(v)}"
                        ) from None
                fixed.append(v)
            col = fixed
        if kind is ColumnKind.TEXT:
            data = "".join(col)
            if data.isascii():
                lens = list(map(len, col))
            else:
                try:
                    lens = [len(v) if v.isascii() else len(v.encode()) for v in col]
                except UnicodeEncodeError:
                    raise ValueError(f"{where}: column {name!r}: text that is not valid Unicode (a lone surrogate)") from None
            columns.append((kind, (data, lens)))
        elif kind is ColumnKind.BYTES:
            columns.append((kind, (b"".join(col), list(map(len, col)))))
        else:
            if kind is not ColumnKind.FLOAT and col and (min(col) < _I64[0] or max(col) > _I64[1]):
                bad = next(v for v in col if not _I64[0] <= v <= _I64[1])
                raise ValueError(f"{where}: column {name!r}: {bad} does not fit in 64 bits")
            columns.append((kind, col))
    return (s.output, len(rows), s.sources or [], columns, nulls)


def check_decls(outputs) -> None:
    """Raises ValueError for output declarations the host would refuse."""
    names = set()
    for i, decl in enumerate(outputs):
        if not isinstance(decl, OutputDecl):
            raise ValueError(f"output {i} is a {type(decl).__name__}, not an OutputDecl")
        if not decl.name:
            raise ValueError(f"output {i} has an empty name")
        if decl.name in names:
            raise ValueError(f"output {decl.name!r} is declared twice")
        names.add(decl.name)
        if not decl.columns:
            raise ValueError(f"output {decl.name!r} declares no columns")
        cols = set()
        for j, col in enumerate(decl.columns):
            if not col.name:
                raise ValueError(f"output {decl.name!r}: column {j} has an empty name")
            if col.name in cols:
                raise ValueError(f"output {decl.name!r}: column {col.name!r} is declared twice")
            cols.add(col.name)
