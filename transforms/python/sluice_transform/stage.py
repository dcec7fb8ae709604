"""The base class a stage extends, its parameters, and the lifecycle that
runs it (the same natively in tests and inside the component)."""

import copy
import dataclasses
import json
import re
import types
import typing

from .batch import Batch, BatchError
from .output import Output, OutputDecl, check_decls


class StageError(Exception):
    """Raised in `__init__`, refuses the params (the message reaches the
    operator); raised in `process`, fails the whole batch (a broken deploy,
    not bad data: reject or drop single records instead)."""


class Transform:
    """A stage. Subclass it, then export it from the app module with
    `Stage = export(YourStage)`::

        class Sessions(Transform):
            @dataclass
            class Params:               # None (default): no params accepted
                prefix: str = "test-"

            def __init__(self, params: Params):
                self.prefix = params.prefix

            def outputs(self):
                return [OutputDecl("sessions").column("session_id", ColumnKind.TEXT)]

            def process(self, batch: Batch, out: Output) -> None:
                for record in batch:
                    out.keep()

    `Params` is a dataclass (unknown keys and wrong types are refused), a
    dict of defaults (unknown keys refused, values typed like the defaults),
    `dict` (the table as it is), or None (only an empty table). The instance
    lives as long as the module instance; the host may start a new one at
    any time, so keep nothing there that correctness depends on.
    """

    Params: typing.Any = None
    #: The stage's name in error messages; default: the class name in kebab-case.
    name: str | None = None

    def __init__(self, params=None):
        pass

    def outputs(self) -> list[OutputDecl]:
        """The side outputs rows are emitted on; rows name them by index or name."""
        return []

    def process(self, batch: Batch, out: Output) -> None:
        """One verdict per record, in order; rows with `out.emit`. Raising
        `StageError` fails the batch; any other exception traps the module,
        and the host isolates the record that caused it and dead-letters it."""
        raise NotImplementedError


def stage_name(cls) -> str:
    return getattr(cls, "name", None) or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", cls.__name__).lower()


# --- params ---------------------------------------------------------------

def parse_params(spec, text: str, stage: str = "stage"):
    """Parses the params JSON for `spec` (see `Transform`); raises StageError
    naming the stage and the field."""
    def fail(message):
        raise StageError(f"{stage}: invalid params: {message}")

    try:
        raw = json.loads(text) if text.strip() else {}
    except ValueError as e:
        fail(str(e))
    if not isinstance(raw, dict):
        fail(f"expected a table, got {_json_type(raw)}")
    if spec is None:
        if raw:
            fail(f"unknown field `{next(iter(raw))}` (this stage takes no params)")
        return None
    if spec is dict:
        return raw
    if isinstance(spec, dict):
        _unknown(raw, spec, "", fail)
        params = copy.deepcopy(spec)
        for key, value in raw.items():
            default = spec[key]
            if default is not None and not _fits(value, type(default)):
                fail(f"field `{key}`: expected {_hint_name(type(default))}, got {_json_type(value)}")
            params[key] = value
        return params
    if dataclasses.is_dataclass(spec):
        try:
            return _dataclass(spec, raw, "")
        except _ParamError as e:
            fail(str(e))
    raise TypeError(f"{stage}: Params must be None, dict, a dict of defaults or a dataclass, not {spec!r}")


class _ParamError(Exception):
    pass


def _unknown(raw, known, path, fail):
    for key in raw:
        if key not in known:
            where = f"field `{path[:-1]}`: " if path else ""
            fail(f"{where}unknown field `{key}` (expected: {', '.join(known) or 'none'})")


def _dataclass(cls, raw, path):
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}

    def fail(message):
        raise _ParamError(message)

    _unknown(raw, fields, path, fail)
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # unresolvable annotations: no type checks
        hints = {}
    values = {}
    for name, f in fields.items():
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                fail(f"missing field `{path}{name}`")
            continue
        value, hint = raw[name], hints.get(name, typing.Any)
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = _dataclass(hint, value, f"{path}{name}.")
        elif not _fits(value, hint):
            fail(f"field `{path}{name}`: expected {_hint_name(hint)}, got {_json_type(value)}")
        values[name] = value
    return cls(**values)


def _fits(value, hint) -> bool:
    """Whether a JSON value fits a type hint (the common ones; others pass)."""
    if hint is typing.Any or hint is object:
        return True
    if hint is type(None) or hint is None:
        return value is None
    if hint is bool:
        return type(value) is bool
    if hint is int:
        return type(value) is int
    if hint is float:
        return type(value) in (int, float)
    if hint in (str, list, dict):
        return type(value) is hint
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_fits(value, a) for a in args)
    if origin is list:
        return type(value) is list and (not args or all(_fits(v, args[0]) for v in value))
    if origin is dict:
        return type(value) is dict and (len(args) < 2 or all(_fits(v, args[1]) for v in value.values()))
    if dataclasses.is_dataclass(hint):
        return False
    return True


def _hint_name(hint) -> str:
    return getattr(hint, "__name__", None) if isinstance(hint, type) else str(hint).replace("typing.", "")


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str", list: "array", dict: "table"}.get(
        type(value), type(value).__name__)


# --- lifecycle ------------------------------------------------------------

class Runtime:
    """Holds one stage instance between calls, and checks its answers."""

    def __init__(self, cls):
        self.cls = cls
        self.name = stage_name(cls)
        self.stage = None
        self.outputs: list[OutputDecl] = []

    def init(self, params: str) -> list[OutputDecl]:
        """Parses `params` (JSON), creates the stage, returns its outputs.
        Raises StageError."""
        self.stage = None
        parsed = parse_params(self.cls.Params, params, self.name)
        stage = self.cls(parsed)
        outputs = list(stage.outputs())
        try:
            check_decls(outputs)
        except ValueError as e:
            raise StageError(f"{self.name}: {e}") from None
        self.stage, self.outputs = stage, outputs
        return outputs

    def process(self, batch: Batch) -> Output:
        """Runs one batch; the answer is checked. Raises StageError."""
        if self.stage is None:
            raise StageError(f"{self.name}: process called before a successful init")
        out = Output(self.outputs)
        self.stage.process(batch, out)
        try:
            out.check(len(batch))
        except ValueError as e:
            raise StageError(f"{self.name}: {e}") from None
        return out


def run(cls, batch: Batch, params="{}") -> Output:
    """Runs stage class `cls` on `batch` as the host would: init with
    `params` (JSON text or a dict), process, check. Raises StageError."""
    runtime = Runtime(cls)
    runtime.init(params if isinstance(params, str) else json.dumps(params))
    return runtime.process(batch)


def export(cls):
    """The class componentize-py exports for the WIT interface `stage`:
    in the app module, `Stage = export(YourStage)`."""
    runtime = Runtime(cls)
    try:  # resolved at build time inside componentize-py; absent natively
        from . import _wit
    except ImportError:
        _wit = None

    class Stage:
        def init(self, params: str):
            return (_wit or _adapter()).init(runtime, params)

        def process(self, batch):
            return (_wit or _adapter()).process(runtime, batch)

    Stage.__qualname__ = Stage.__name__ = "Stage"
    return Stage


def _adapter():
    from . import _wit
    return _wit


__all__ = ["StageError", "Transform", "parse_params", "Runtime", "run", "export", "BatchError"]
