"""Tests of the sluice_transform library: python3 -m unittest discover -s transforms/python/tests
(from the repo root). The adapter test runs when componentize-py is found."""

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sluice_transform import (  # noqa: E402
    Batch, BatchError, ColumnKind, Header, Output, OutputDecl, Row, Runtime, StageError, Transform,
    Verdict, parse_params, run,
)


def decls():
    return [
        OutputDecl("log")
        .column("n", ColumnKind.INT)
        .nullable_column("s", ColumnKind.TEXT)
        .column("b", ColumnKind.BYTES)
    ]


class BatchTest(unittest.TestCase):
    def test_records_carry_keys_values_headers(self):
        b = Batch("events", 2)
        b.push(b"first", key=b"k1", offset=10, timestamp=1000, headers=[("a", "1")])
        b.push(b"", offset=11)
        b.push("third value", key=b"", timestamp=3000, headers=[("b", None), ("c", b"3")])
        r = list(b)
        self.assertEqual(len(b), 3)
        self.assertEqual((r[0].index, r[0].key, r[0].value, r[0].offset, r[0].timestamp, r[0].partition),
                         (0, b"k1", b"first", 10, 1000, 2))
        self.assertEqual(r[0].header("a"), b"1")
        self.assertEqual((r[1].key, r[1].value, r[1].timestamp, tuple(r[1].headers)), (None, b"", None, ()))
        self.assertEqual((r[2].index, r[2].offset, r[2].key, r[2].value), (2, 12, b"", b"third value"))
        self.assertEqual(r[2].header("b"), None)
        self.assertEqual(r[2].header("c"), b"3")
        self.assertEqual(list(r[2].headers), [Header("b", None), Header("c", b"3")])
        self.assertEqual(type(r[2].value), bytes)
        self.assertEqual(b.values(), [b"first", b"", b"third value"])
        self.assertEqual(b.offsets, [10, 11, 12])

    def test_malformed_batches_are_named(self):
        def columns(**change):
            c = dict(topic="t", partition=0, offsets=[0, 1], timestamps=[-1, -1], key_lens=[-1, 1], keys=b"k",
                     value_lens=[3, 2], values=b"abcde", header_counts=[0, 0], headers=[])
            c.update(change)
            return Batch._from_columns(**c)

        self.assertEqual(len(list(columns())), 2)
        with self.assertRaisesRegex(BatchError, "declare 5 bytes/entries of values but the batch has 4"):
            columns(values=b"abcd")
        with self.assertRaisesRegex(BatchError, "2 records but 1 entries in timestamps"):
            columns(timestamps=[-1])
        with self.assertRaisesRegex(BatchError, "of keys"):
            columns(keys=b"kk")
        with self.assertRaisesRegex(BatchError, "key length -2"):
            columns(key_lens=[-2, 1])
        with self.assertRaisesRegex(BatchError, "of headers"):
            columns(header_counts=[1, 0])


class OutputTest(unittest.TestCase):
    def test_verdicts_in_order(self):
        out = Output()
        out.keep()
        out.replace("one")
        out.reject("bad")
        out.replace(b"two!")
        out.drop()
        self.assertEqual(out.verdicts(), [Verdict.keep(), Verdict.replace(b"one"), Verdict.reject("bad"),
                                          Verdict.replace(b"two!"), Verdict.drop()])
        out.check(5)
        verdicts, replacements, lens, reasons, sets = out._answer()
        self.assertEqual((verdicts, replacements, lens, reasons, sets), ([0, 1, 2, 1, 3], b"onetwo!", [3, 4], ["bad"], []))

    def test_rows_go_column_by_column_with_nulls_and_sources(self):
        out = Output(decls())
        rec = next(iter(Batch.from_values(["a", "b"]).__iter__()))
        out.emit(0, 1, "héllo", b"xy")
        out.emit("log", 2, None, bytearray(b"\x01"), record=1)
        out.emit(0, 3, "ab", b"")
        out.emit(0, 4, None, b"z", record=rec)
        for _ in range(2):
            out.keep()
        out.check(2)
        self.assertEqual(out.rows(), [
            Row(0, None, (1, "héllo", b"xy")), Row(0, None, (3, "ab", b"")),
            Row(0, 1, (2, None, bytearray(b"\x01"))), Row(0, 0, (4, None, b"z")),
        ])
        sets = out._answer()[4]
        self.assertEqual(sets[0], (0, 2, [], [(ColumnKind.INT, [1, 3]), (ColumnKind.TEXT, ("hélloab", [6, 2])),
                                             (ColumnKind.BYTES, (b"xy", [2, 0]))], []))
        self.assertEqual(sets[1], (0, 2, [1, 0], [(ColumnKind.INT, [2, 4]), (ColumnKind.TEXT, ("", [0, 0])),
                                                 (ColumnKind.BYTES, (b"\x01z", [1, 1]))], [(1, 0), (1, 1)]))

    def test_values_are_converted_to_their_kind(self):
        out = Output([OutputDecl("o").column("f", ColumnKind.FLOAT).column("t", ColumnKind.TIMESTAMP_MS)])
        out.emit(0, 1, datetime(2026, 1, 28, 1, 58, 30, 120000, tzinfo=timezone.utc))
        out.emit(0, 2.5, 7)
        out.check(0)
        self.assertEqual(out._answer()[4][0][3], [(ColumnKind.FLOAT, [1.0, 2.5]),
                                                  (ColumnKind.TIMESTAMP_MS, [1769565510120, 7])])

    def test_the_first_misfit_is_the_error(self):
        def error(*rows, records=0, outputs=None):
            out = Output(decls() if outputs is None else outputs)
            for values, record in rows:
                out.emit(0, *values, record=record)
            with self.assertRaises(ValueError) as e:
                out.check(records)
            return str(e.exception)

        self.assertEqual(error(((1, None, b""), None), ((None, None, b""), 0)),
                         "on output 'log': row 0 (record 0): column 'n' is int, got null")
        self.assertEqual(error(((1, 2, b""), None)), "on output 'log': row 0: column 's' is text (nullable), got int")
        self.assertEqual(error(((True, None, b""), None)), "on output 'log': row 0: column 'n' is int, got bool")
        self.assertEqual(error(((1, None, "x"), None)), "on output 'log': row 0: column 'b' is bytes, got str")
        self.assertEqual(error(((1, None), None), ((1, None, b"", 4), None)),
                         "row 0: on output 'log': 2 values for 3 columns")
        self.assertEqual(error(((1,), None), outputs=[]), "row 0: output 0 is not declared (declared: none)")
        self.assertEqual(error(((1 << 63, None, b""), None)), "on output 'log': column 'n': 9223372036854775808 does not fit in 64 bits")
        self.assertEqual(error(((1, "\ud800", b""), None)),
                         "on output 'log': column 's': text that is not valid Unicode (a lone surrogate)")
        self.assertEqual(error(records=2), "process gave 0 verdicts for 2 records (one per record is required)")
        out = Output()
        out.reject("")
        with self.assertRaisesRegex(ValueError, "verdict 0: reject needs a reason"):
            out.check(1)
        out = Output()
        out.replace({"a": 1})
        with self.assertRaisesRegex(ValueError, "verdict 0: replace needs bytes or str, got dict"):
            out.check(1)


class ParamsTest(unittest.TestCase):
    @dataclass
    class P:
        limit: int = 0
        names: list[str] = dataclasses.field(default_factory=list)
        ratio: float | None = None

    def test_dataclass(self):
        self.assertEqual(parse_params(self.P, ""), self.P())
        self.assertEqual(parse_params(self.P, '{"limit": 3, "names": ["a"], "ratio": 1}'), self.P(3, ["a"], 1))
        for text, message in [
            ('{"limt": 1}', "s: invalid params: unknown field `limt` (expected: limit, names, ratio)"),
            ('{"limit": "ten"}', "s: invalid params: field `limit`: expected int, got str"),
            ('{"names": ["a", 3]}', "s: invalid params: field `names`: expected list[str], got array"),
            ('{"limit": 1} x', "s: invalid params: Extra data: line 1 column 14 (char 13)"),
            ("[1]", "s: invalid params: expected a table, got array"),
        ]:
            with self.assertRaises(StageError) as e:
                parse_params(self.P, text, "s")
            self.assertEqual(str(e.exception), message)

    def test_nested_and_required(self):
        @dataclass
        class Inner:
            depth: int

        @dataclass
        class Outer:
            inner: Inner

        self.assertEqual(parse_params(Outer, '{"inner": {"depth": 2}}'), Outer(Inner(2)))
        with self.assertRaisesRegex(StageError, "field `inner`: unknown field `deep`"):
            parse_params(Outer, '{"inner": {"deep": 2}}')
        with self.assertRaisesRegex(StageError, "missing field `inner.depth`"):
            parse_params(Outer, '{"inner": {}}')
        with self.assertRaisesRegex(StageError, "missing field `inner`"):
            parse_params(Outer, "{}")

    def test_dict_none_and_defaults(self):
        self.assertEqual(parse_params(dict, '{"x": 1}'), {"x": 1})
        self.assertIsNone(parse_params(None, " {} "))
        with self.assertRaisesRegex(StageError, r"unknown field `x` \(this stage takes no params\)"):
            parse_params(None, '{"x": 1}')
        defaults = {"prefix": "test-", "max": 5}
        self.assertEqual(parse_params(defaults, '{"max": 7}'), {"prefix": "test-", "max": 7})
        with self.assertRaisesRegex(StageError, "unknown field `prefx`"):
            parse_params(defaults, '{"prefx": "a"}')
        with self.assertRaisesRegex(StageError, "field `max`: expected int, got str"):
            parse_params(defaults, '{"max": "7"}')


class Probe(Transform):
    Params = {"mode": ""}

    def __init__(self, params):
        if params["mode"] == "refuse":
            raise StageError("refused")
        self.mode = params["mode"]

    def outputs(self):
        if self.mode == "dup":
            return [OutputDecl("a").column("x", ColumnKind.INT)] * 2
        return [OutputDecl("log").column("n", ColumnKind.INT)]

    def process(self, batch, out):
        for record in batch:
            if self.mode != "short":
                out.keep()
            out.emit(0, record.offset, record=record)
        if self.mode == "fail":
            raise StageError("broken")


class RuntimeTest(unittest.TestCase):
    def test_run_and_checks(self):
        out = run(Probe, Batch.from_values(["a", "b"]))
        self.assertEqual(out.rows(), [Row(0, 0, (0,)), Row(0, 1, (1,))])
        self.assertEqual(Runtime(Probe).name, "probe")
        for mode, message in [
            ("refuse", "refused"),
            ("dup", "probe: output 'a' is declared twice"),
            ("fail", "broken"),
            ("short", "probe: process gave 0 verdicts for 2 records (one per record is required)"),
        ]:
            with self.assertRaises(StageError) as e:
                run(Probe, Batch.from_values(["a", "b"]), {"mode": mode})
            self.assertEqual(str(e.exception), message)
        with self.assertRaisesRegex(StageError, "before a successful init"):
            Runtime(Probe).process(Batch())


def componentize_py():
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return shutil.which("componentize-py") or shutil.which("componentize-py", path=f"{cache}/sluice/componentize-py/bin")


@unittest.skipUnless(componentize_py(), "componentize-py not found")
class AdapterTest(unittest.TestCase):
    """The WIT adapter against the bindings componentize-py generates."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        wit = HERE.parent.parent / "wit"
        subprocess.run([componentize_py(), "-d", str(wit), "-w", "transform", "bindings", cls.dir], check=True,
                       capture_output=True)
        sys.path.insert(0, cls.dir)
        from sluice_transform import _wit
        from wit_world.imports import types
        cls.wit, cls.t = _wit, types

    @classmethod
    def tearDownClass(cls):
        sys.path.remove(cls.dir)
        shutil.rmtree(cls.dir)

    def test_round_trip(self):
        from componentize_py_types import Err
        t = self.t

        class Stage(Transform):
            def outputs(self):
                return decls()

            def process(self, batch, out):
                for r in batch:
                    if r.value == b"x":
                        out.reject("x")
                    elif r.key is None:
                        out.replace(r.value.upper())
                    else:
                        out.drop()
                    out.emit(0, r.offset, r.header("h") and r.header("h").decode(), r.key or b"", record=r)

        runtime = Runtime(Stage)
        info = self.wit.init(runtime, "")
        self.assertEqual(info, t.StageInfo([t.OutputDecl("log", [
            t.Column("n", t.ColumnKind.INT, False), t.Column("s", t.ColumnKind.TEXT, True),
            t.Column("b", t.ColumnKind.BYTES, False)])]))
        batch = t.Batch("t", 0, [5, 6, 7], [-1, 9, -1], [-1, 2, -1], b"kk", [1, 1, 1], b"abx", [0, 1, 0],
                        [t.Header("h", b"v")])
        out = self.wit.process(runtime, batch)
        self.assertEqual(out, t.BatchOutput(
            verdicts=[t.Verdict.REPLACE, t.Verdict.DROP, t.Verdict.REJECT],
            replacements=b"A", replacement_lens=[1], reasons=["x"],
            rows=[t.Rows(0, 3, [0, 1, 2], [t.ColumnValues_Int([5, 6, 7]),
                                           t.ColumnValues_Text(t.TextValues("v", [0, 1, 0])),
                                           t.ColumnValues_Bytes(t.BytesValues(b"kk", [0, 2, 0]))],
                         [(1, 0), (1, 2)])]))
        with self.assertRaises(Err) as e:
            self.wit.process(runtime, t.Batch("t", 0, [0], [-1], [-1], b"", [2], b"a", [0], []))
        self.assertIn("malformed batch", e.exception.value)
        with self.assertRaises(Err) as e:
            self.wit.init(Runtime(Probe), '{"mode": 1}')
        self.assertEqual(e.exception.value, "probe: invalid params: field `mode`: expected str, got int")


if __name__ == "__main__":
    unittest.main()
