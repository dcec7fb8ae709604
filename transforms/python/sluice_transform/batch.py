"""Batches: the records of one partition of one topic, in offset order.

A batch keeps the columns the host sends (a list per field, one buffer for
all keys, one for all values) and makes a `Record` only when iterated.
"""

from itertools import accumulate
from typing import NamedTuple

#: `timestamps` entry of a record without a timestamp (Kafka's own value).
NO_TIMESTAMP = -1
#: `key_lens` entry of a record without a key.
NO_KEY = -1

_NO_HEADERS = ()


class Header(NamedTuple):
    """One Kafka header. A header may have no value."""

    key: str
    value: bytes | None


class Record:
    """One input record. `index` is its position in the batch; rows emitted
    with `record=` carry it."""

    __slots__ = ("index", "offset", "timestamp", "key", "value", "headers", "topic", "partition")

    def __init__(self, index, offset, timestamp, key, value, headers, topic, partition):
        self.index: int = index
        self.offset: int = offset
        #: Milliseconds since the Unix epoch, or None.
        self.timestamp: int | None = timestamp
        self.key: bytes | None = key
        self.value: bytes = value
        self.headers: tuple[Header, ...] | list[Header] = headers
        self.topic: str = topic
        self.partition: int = partition

    def header(self, key: str) -> bytes | None:
        """The value of the first header named `key` that has a value."""
        for h in self.headers:
            if h.key == key and h.value is not None:
                return h.value
        return None

    def __repr__(self):
        return (
            f"Record(index={self.index}, offset={self.offset}, timestamp={self.timestamp}, "
            f"key={self.key!r}, value={self.value!r}, headers={list(self.headers)!r})"
        )


class BatchError(ValueError):
    """The parts of a batch do not fit together."""


class Batch:
    """The records of one batch. Iterate it (`for record in batch`), or read
    whole columns at once: `batch.values()`, `batch.offsets`.

    In tests, build one with `Batch.from_values([...])` or `Batch().push(...)`.
    """

    __slots__ = (
        "topic", "partition", "offsets", "timestamps",
        "_key_lens", "_keys", "_value_lens", "_values", "_header_counts", "_headers",
    )

    def __init__(self, topic: str = "test", partition: int = 0):
        self.topic = topic
        self.partition = partition
        #: Offset of each record.
        self.offsets: list[int] = []
        #: Timestamp of each record, -1 (NO_TIMESTAMP) for none.
        self.timestamps: list[int] = []
        self._key_lens: list[int] = []
        self._keys = bytearray()
        self._value_lens: list[int] = []
        self._values = bytearray()
        self._header_counts: list[int] = []
        self._headers: list[Header] = []

    @classmethod
    def from_values(cls, values, topic: str = "test", partition: int = 0) -> "Batch":
        """Key-less records with these values (bytes or str), offsets 0, 1, ..."""
        batch = cls(topic, partition)
        for v in values:
            batch.push(v)
        return batch

    @classmethod
    def _from_columns(cls, topic, partition, offsets, timestamps, key_lens, keys,
                      value_lens, values, header_counts, headers) -> "Batch":
        """A batch over the host's columns (not copied), checked."""
        b = cls.__new__(cls)
        b.topic, b.partition, b.offsets, b.timestamps = topic, partition, offsets, timestamps
        b._key_lens, b._keys, b._value_lens, b._values = key_lens, keys, value_lens, values
        b._header_counts, b._headers = header_counts, headers
        b._check()
        return b

    def push(self, value, *, key=None, offset: int | None = None, timestamp: int | None = None,
             headers=()) -> "Batch":
        """Appends a record (offset: the next one by default). Returns the batch."""
        if isinstance(value, str):
            value = value.encode()
        if isinstance(key, str):
            key = key.encode()
        if offset is None:
            offset = self.offsets[-1] + 1 if self.offsets else 0
        self.offsets.append(offset)
        self.timestamps.append(NO_TIMESTAMP if timestamp is None else timestamp)
        if key is None:
            self._key_lens.append(NO_KEY)
        else:
            self._key_lens.append(len(key))
            self._keys += key
        self._value_lens.append(len(value))
        self._values += value
        hs = [Header(k, v.encode() if isinstance(v, str) else v) for k, v in headers]
        self._header_counts.append(len(hs))
        self._headers.extend(hs)
        return self

    def __len__(self) -> int:
        return len(self.offsets)

    def values(self) -> list[bytes]:
        """Every record's value, in order (sliced column-wise, no Record objects)."""
        return _split(self._values, self._value_lens)

    def __iter__(self):
        topic, partition = self.topic, self.partition
        keys, values, headers = _frozen(self._keys), _frozen(self._values), self._headers
        k = v = h = 0
        index = 0
        for offset, ts, kl, vl, hc in zip(self.offsets, self.timestamps, self._key_lens,
                                          self._value_lens, self._header_counts):
            if kl < 0:
                key = None
            else:
                key = keys[k:k + kl]
                k += kl
            value = values[v:v + vl]
            v += vl
            if hc:
                hs = headers[h:h + hc]
                h += hc
            else:
                hs = _NO_HEADERS
            yield Record(index, offset, None if ts < 0 else ts, key, value, hs, topic, partition)
            index += 1

    def _check(self):
        n = len(self.offsets)
        for part, entries in (("timestamps", self.timestamps), ("key-lens", self._key_lens),
                              ("value-lens", self._value_lens), ("header-counts", self._header_counts)):
            if len(entries) != n:
                raise BatchError(f"malformed batch: {n} records but {len(entries)} entries in {part}")
        if self._key_lens and min(self._key_lens) < NO_KEY:
            raise BatchError(f"malformed batch: key length {min(self._key_lens)} (only -1, no key, may be negative)")
        for part, declared, actual in (
            ("keys", sum(self._key_lens) + self._key_lens.count(NO_KEY), len(self._keys)),
            ("values", sum(self._value_lens), len(self._values)),
            ("headers", sum(self._header_counts), len(self._headers)),
        ):
            if declared != actual:
                raise BatchError(
                    f"malformed batch: the records declare {declared} bytes/entries of {part} but the batch has {actual}"
                )

    def __repr__(self):
        return f"Batch(topic={self.topic!r}, partition={self.partition}, records={len(self)})"


def _frozen(buf) -> bytes:
    # Batches built in tests grow bytearrays; slices of bytes are bytes.
    return bytes(buf) if type(buf) is bytearray else buf


def _split(buf, lens) -> list[bytes]:
    """Slices `buf` by consecutive lengths."""
    buf = _frozen(buf)
    ends = list(accumulate(lens))
    return list(map(buf.__getitem__, map(slice, [0, *ends[:-1]], ends)))
