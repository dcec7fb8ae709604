"""A Sluice transform stage. `Stage` at the bottom is what the component
exports; `sluice_transform` is the library (see its docstrings).

Per record: a JSON object with a string `sessionId` is an event. Events of
test sessions (id starting with `prefix`) are dropped; the others are kept
and get one row on the `sessions` output. Anything else is rejected
(dead-lettered with a reason).
"""

import json
from dataclasses import dataclass

from sluice_transform import Batch, ColumnKind, Output, OutputDecl, Transform, export

SESSIONS = 0  # index of the output in outputs()


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


# One decoder for all records (json.loads builds one per call); strict JSON: no NaN.
parse_json = json.JSONDecoder(parse_constant=_no_constants).decode


class Sessions(Transform):
    @dataclass
    class Params:  # [transforms.params] in pipeline.toml; unknown keys are refused
        prefix: str = "test-"

    def __init__(self, params: Params):
        self.prefix = params.prefix

    def outputs(self):
        return [
            OutputDecl("sessions")
            .column("session_id", ColumnKind.TEXT)
            .nullable_column("event_type", ColumnKind.TEXT)
        ]

    def process(self, batch: Batch, out: Output) -> None:
        prefix = self.prefix
        for record in batch:
            try:
                event = parse_json(record.value.decode())
            except (ValueError, RecursionError):  # not UTF-8, not JSON, too deep
                event = None
            session_id = event.get("sessionId") if type(event) is dict else None
            if type(session_id) is not str:
                out.reject("not an event: no string sessionId")
            elif session_id.startswith(prefix):
                out.drop()
            else:
                out.keep()
                event_type = event.get("eventType")
                out.emit(SESSIONS, session_id, event_type if type(event_type) is str else None, record=record)


Stage = export(Sessions)  # componentize-py exports this class
