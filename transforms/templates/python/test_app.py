"""Native tests: python3 -m unittest (no componentize-py needed)."""

import unittest

from app import Sessions
from sluice_transform import Batch, Row, StageError, Verdict, run

FOCUS = b'{"sessionId":"session-42","eventType":"FOCUS"}'


class SessionsTest(unittest.TestCase):
    def test_drops_test_sessions(self):
        out = run(Sessions, Batch.from_values([b'{"sessionId":"test-1","eventType":"FOCUS"}']))
        self.assertEqual(out.verdicts(), [Verdict.drop()])
        self.assertEqual(out.rows(), [])

    def test_rejects_what_is_not_an_event(self):
        batch = Batch.from_values([b"not json", b"[1]", b'{"sessionId":7}', b'{"eventType":"FOCUS"}'])
        out = run(Sessions, batch)
        self.assertEqual(out.verdicts(), [Verdict.reject("not an event: no string sessionId")] * 4)

    def test_keeps_events_with_a_row_each(self):
        batch = Batch.from_values([FOCUS, b'{"sessionId":"test-9"}', b'{"sessionId":"s-7","eventType":3}'])
        out = run(Sessions, batch)
        self.assertEqual(out.verdicts(), [Verdict.keep(), Verdict.drop(), Verdict.keep()])
        self.assertEqual(out.rows(), [Row(0, 0, ("session-42", "FOCUS")), Row(0, 2, ("s-7", None))])

    def test_prefix_param(self):
        out = run(Sessions, Batch.from_values([FOCUS]), params={"prefix": "session-"})
        self.assertEqual(out.verdicts(), [Verdict.drop()])

    def test_unknown_param_is_refused(self):
        with self.assertRaises(StageError) as e:
            run(Sessions, Batch(), params={"prefx": "qa-"})
        self.assertIn("unknown field `prefx`", str(e.exception))


if __name__ == "__main__":
    unittest.main()
