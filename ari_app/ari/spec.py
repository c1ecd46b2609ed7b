"""The ARI contract: loads the Asterisk 22.10.1 ARI specification (Swagger 1.1 JSON) and checks
requests and events against it.

Owns: finding the spec directory (`<repo>/../shared/asterisk-ari-spec`, or the directory named by
`KAYAKO_VOICE_ARI_SPEC_DIR`), matching `METHOD /path` to an operation, and validating query,
path and body parameters (required, unknown, dataType int/long/boolean/string, allowMultiple,
allowableValues LIST/RANGE), plus validating event and model dicts (required fields, property
types, allowed values, unknown fields).

Facts it relies on (Asterisk 22 behaviour, read from res/ari/*.c and the spec):
- Paths in the spec are relative to `/ari`; a literal segment wins over a `{param}` segment
  (`POST /channels/externalMedia` is not `POST /channels/{channelId}`).
- `allowMultiple` parameters are comma-separated lists; booleans follow `ast_true`/`ast_false`
  (yes/true/y/t/1/on and no/false/n/f/0/off).
- `api_key=user:password` is accepted on every request in addition to Basic auth, so it is
  not a spec parameter.
- A `containers` body parameter is a JSON object of string -> string; Asterisk also reads the
  operation's query parameters from the JSON body.

The application never needs this module at run time; the client uses it only when given an
`AriSpec` for debugging and tests, and the Asterisk test double checks every request and event.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

SPEC_DIR_ENV = "KAYAKO_VOICE_ARI_SPEC_DIR"
_REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC_DIR = _REPO_ROOT.parent / "shared" / "asterisk-ari-spec"

# Parameters that Asterisk's HTTP layer accepts on every ARI request (not in the spec files).
GLOBAL_QUERY_PARAMS = frozenset({"api_key"})

_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})
_FALSE = frozenset({"no", "false", "n", "f", "0", "off"})
_INT = re.compile(r"^[+-]?\d+$")
_PRIMITIVES = frozenset({"string", "int", "long", "double", "boolean", "Date", "object"})


class SpecNotFound(FileNotFoundError):
    """The ARI spec directory is missing; the message names the path and the env variable."""


class SpecViolation(ValueError):
    """A request or event does not match the ARI spec; `problems` lists every mismatch."""

    def __init__(self, subject: str, problems: Sequence[str]) -> None:
        self.subject = subject
        self.problems = tuple(problems)
        super().__init__(f"{subject}: " + "; ".join(self.problems))


def locate_spec_dir() -> Path:
    """The spec directory: `$KAYAKO_VOICE_ARI_SPEC_DIR`, else `<repo>/../shared/asterisk-ari-spec`."""
    configured = os.environ.get(SPEC_DIR_ENV)
    path = Path(configured) if configured else DEFAULT_SPEC_DIR
    if not (path / "resources.json").is_file():
        raise SpecNotFound(
            f"ARI spec not found at {path} (set {SPEC_DIR_ENV} to the directory with resources.json)"
        )
    return path


@dataclass(frozen=True)
class Parameter:
    name: str
    param_type: str  # "path" | "query" | "body"
    data_type: str
    required: bool
    allow_multiple: bool
    allowable: Mapping[str, Any] | None


@dataclass(frozen=True)
class Operation:
    resource: str
    nickname: str
    method: str
    path: str  # template relative to /ari, e.g. "/channels/{channelId}/answer"
    parameters: tuple[Parameter, ...]
    response_class: str
    error_responses: Mapping[int, str]
    segments: tuple[str, ...] = field(repr=False, default=())

    @property
    def name(self) -> str:
        return f"{self.resource}.{self.nickname}"

    def params(self, param_type: str) -> dict[str, Parameter]:
        return {p.name: p for p in self.parameters if p.param_type == param_type}


@dataclass(frozen=True)
class RequestMatch:
    operation: Operation
    path_params: Mapping[str, str]


def _segments(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.strip("/").split("/") if s != "")


def _is_var(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


class AriSpec:
    """The loaded spec: operations by path template and models by name."""

    def __init__(self, spec_dir: Path | str | None = None) -> None:
        self.spec_dir = Path(spec_dir) if spec_dir is not None else locate_spec_dir()
        if not (self.spec_dir / "resources.json").is_file():
            raise SpecNotFound(f"ARI spec not found at {self.spec_dir}")
        self.operations: list[Operation] = []
        self.models: dict[str, dict[str, Any]] = {}
        resources = json.loads((self.spec_dir / "resources.json").read_text())
        self.api_version: str = resources.get("apiVersion", "")
        for api in resources["apis"]:
            name = api["path"].rsplit("/", 1)[-1].split(".", 1)[0]
            self._load_resource(name, json.loads((self.spec_dir / f"{name}.json").read_text()))
        self._event_types = self._subtypes("Event")

    def _load_resource(self, resource: str, doc: Mapping[str, Any]) -> None:
        for model_name, model in doc.get("models", {}).items():
            self.models[model_name] = model
        for api in doc.get("apis", []):
            for op in api.get("operations", []):
                params = tuple(
                    Parameter(
                        name=p["name"],
                        param_type=p["paramType"],
                        data_type=p["dataType"],
                        # path parameters are required even where the spec omits the flag
                        required=bool(p.get("required")) or p["paramType"] == "path",
                        allow_multiple=bool(p.get("allowMultiple")),
                        allowable=p.get("allowableValues"),
                    )
                    for p in op.get("parameters", [])
                )
                self.operations.append(
                    Operation(
                        resource=resource,
                        nickname=op["nickname"],
                        method=op["httpMethod"].upper(),
                        path=api["path"],
                        parameters=params,
                        response_class=op.get("responseClass", "void"),
                        error_responses={int(e["code"]): e["reason"] for e in op.get("errorResponses", [])},
                        segments=_segments(api["path"]),
                    )
                )

    def _subtypes(self, root: str) -> frozenset[str]:
        found: set[str] = set()
        todo = [root]
        while todo:
            name = todo.pop()
            for sub in self.models.get(name, {}).get("subTypes", []):
                if sub not in found:
                    found.add(sub)
                    todo.append(sub)
        return frozenset(found)

    @property
    def event_types(self) -> frozenset[str]:
        return self._event_types

    def operation(self, resource: str, nickname: str) -> Operation:
        for op in self.operations:
            if op.resource == resource and op.nickname == nickname:
                return op
        raise KeyError(f"{resource}.{nickname}")

    # ---- requests -------------------------------------------------------------------------

    def match(self, method: str, path: str) -> RequestMatch:
        """The operation for `method path` (path relative to /ari, or starting with /ari/)."""
        if path.startswith("/ari/") or path == "/ari":
            path = path[4:]
        segs = _segments(path)
        candidates: list[tuple[int, Operation]] = []
        for op in self.operations:
            if len(op.segments) != len(segs):
                continue
            literal = 0
            for tmpl, seg in zip(op.segments, segs, strict=True):
                if _is_var(tmpl):
                    continue
                if tmpl != seg:
                    break
                literal += 1
            else:
                candidates.append((literal, op))
        if not candidates:
            raise SpecViolation(f"{method} /ari{path}", ["no such path in the ARI spec"])
        best = max(score for score, _ in candidates)
        on_path = [op for score, op in candidates if score == best]
        for op in on_path:
            if op.method == method.upper():
                params = {t[1:-1]: s for t, s in zip(op.segments, segs, strict=True) if _is_var(t)}
                return RequestMatch(op, params)
        allowed = sorted({op.method for op in on_path})
        raise SpecViolation(
            f"{method} /ari{path}",
            [f"method {method} not allowed on {on_path[0].path} (allowed: {', '.join(allowed)})"],
        )

    def validate_request(
        self,
        method: str,
        path: str,
        query: Mapping[str, Sequence[str]] | Iterable[tuple[str, str]] = (),
        body: Any = None,
    ) -> RequestMatch:
        """Check one request; return its operation or raise SpecViolation listing every problem.

        `query` is a mapping name -> list of values, or (name, value) pairs as on the wire.
        `body` is the decoded JSON body (None when there is none).
        """
        matched = self.match(method, path)
        op = matched.operation
        rel = path[4:] if path.startswith("/ari/") else path
        subject = f"{method.upper()} /ari{rel} ({op.name})"
        problems: list[str] = []
        values: dict[str, list[str]] = {}
        pairs = query.items() if isinstance(query, Mapping) else _group(query)
        for name, vals in pairs:
            values.setdefault(name, []).extend(list(vals))
        query_params = op.params("query")
        body_params = op.params("body")
        for name, vals in values.items():
            if name in GLOBAL_QUERY_PARAMS:
                continue
            param = query_params.get(name)
            if param is None:
                known = ", ".join(sorted(query_params)) or "none"
                problems.append(f"unknown query parameter {name!r} (known: {known})")
                continue
            if len(vals) > 1 and not param.allow_multiple:
                problems.append(
                    f"query parameter {name!r} given {len(vals)} times but allowMultiple is false"
                )
            for raw in vals:
                items = raw.split(",") if param.allow_multiple else [raw]
                for item in items:
                    problems.extend(_check_scalar(name, item, param))
        for name, value in matched.path_params.items():
            param = op.params("path").get(name)
            if param is not None and value == "":
                problems.append(f"path parameter {name!r} is empty")
        body_keys: set[str] = set()
        if body is not None:
            if not isinstance(body, Mapping):
                problems.append(f"body must be a JSON object, got {type(body).__name__}")
            else:
                for key, value in body.items():
                    body_keys.add(key)
                    if key in body_params:
                        problems.extend(_check_body(key, value, body_params[key]))
                    elif key in query_params:
                        if key in values:
                            problems.append(f"parameter {key!r} given both in the query and in the body")
                        problems.extend(_check_scalar(key, _stringify(value), query_params[key]))
                    else:
                        known = ", ".join(sorted(body_params)) or "none"
                        problems.append(f"unknown body field {key!r} (body parameters: {known})")
        for param in op.parameters:
            if not param.required:
                continue
            if param.param_type == "query" and param.name not in values and param.name not in body_keys:
                problems.append(f"missing required query parameter {param.name!r}")
            if param.param_type == "body" and param.name not in body_keys:
                problems.append(f"missing required body parameter {param.name!r}")
        if problems:
            raise SpecViolation(subject, problems)
        return matched

    # ---- events and models ----------------------------------------------------------------

    def validate_event(self, event: Any, *, allow_extra: bool = False) -> None:
        """Check one WebSocket message against events.json (the model named by its `type`)."""
        if not isinstance(event, Mapping):
            raise SpecViolation("event", [f"event must be a JSON object, got {type(event).__name__}"])
        kind = event.get("type")
        if not isinstance(kind, str):
            raise SpecViolation("event", ["missing string field 'type'"])
        if kind not in self._event_types:
            raise SpecViolation(f"event {kind}", [f"unknown event type {kind!r}"])
        problems = self._check_model(kind, event, kind, allow_extra)
        if problems:
            raise SpecViolation(f"event {kind}", problems)

    def validate_model(self, model: str, value: Any, *, allow_extra: bool = False) -> None:
        """Check a value against a model or type expression (e.g. "Channel", "List[Bridge]")."""
        problems = self._check_type(model, value, model, allow_extra)
        if problems:
            raise SpecViolation(model, problems)

    def _inherited(self, model: str) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for parent_name, parent in self.models.items():
            if model in parent.get("subTypes", []):
                props.update(self._inherited(parent_name))
        props.update(self.models[model]["properties"])
        return props

    def _check_model(self, model: str, value: Any, where: str, allow_extra: bool) -> list[str]:
        if not isinstance(value, Mapping):
            return [f"{where}: expected {model} object, got {type(value).__name__}"]
        props = self._inherited(model)
        problems: list[str] = []
        for name, prop in props.items():
            if name not in value:
                if prop.get("required"):
                    problems.append(f"{where}: missing required field {name!r}")
                continue
            problems.extend(self._check_type(prop["type"], value[name], f"{where}.{name}", allow_extra))
            allowable = prop.get("allowableValues")
            if allowable and isinstance(value[name], str):
                problems.extend(_check_allowable(f"{where}.{name}", value[name], allowable))
        if not allow_extra:
            for name in value:
                if name not in props:
                    problems.append(f"{where}: field {name!r} is not in model {model}")
        return problems

    def _check_type(self, type_name: str, value: Any, where: str, allow_extra: bool) -> list[str]:
        if type_name.startswith("List[") and type_name.endswith("]"):
            if not isinstance(value, list):
                return [f"{where}: expected {type_name}, got {type(value).__name__}"]
            inner = type_name[5:-1]
            out: list[str] = []
            for i, item in enumerate(value):
                out.extend(self._check_type(inner, item, f"{where}[{i}]", allow_extra))
            return out
        if type_name in _PRIMITIVES:
            return _check_primitive(type_name, value, where)
        if type_name in self.models:
            return self._check_model(type_name, value, where, allow_extra)
        return [f"{where}: type {type_name!r} is not defined in the spec"]


def _group(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return list(grouped.items())


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_scalar(name: str, raw: str, param: Parameter) -> list[str]:
    dt = param.data_type
    if dt in ("int", "long"):
        if not _INT.match(raw):
            return [f"parameter {name!r}={raw!r} is not an integer ({dt})"]
    elif dt == "boolean":
        if raw.lower() not in _TRUE | _FALSE:
            return [f"parameter {name!r}={raw!r} is not a boolean"]
    elif dt == "double":
        try:
            float(raw)
        except ValueError:
            return [f"parameter {name!r}={raw!r} is not a number"]
    if param.allowable:
        return _check_allowable(f"parameter {name!r}", raw, param.allowable)
    return []


def _check_allowable(where: str, raw: str, allowable: Mapping[str, Any]) -> list[str]:
    kind = allowable.get("valueType")
    if kind == "LIST":
        values = allowable.get("values", [])
        if raw not in values:
            return [f"{where}={raw!r} is not one of {', '.join(values)}"]
    elif kind == "RANGE":
        try:
            number = float(raw)
        except ValueError:
            return [f"{where}={raw!r} is not a number"]
        low, high = allowable.get("min"), allowable.get("max")
        if low is not None and number < low:
            return [f"{where}={raw!r} is below the minimum {low}"]
        if high is not None and number > high:
            return [f"{where}={raw!r} is above the maximum {high}"]
    return []


def _check_body(name: str, value: Any, param: Parameter) -> list[str]:
    if param.data_type == "containers":
        if not isinstance(value, Mapping):
            return [f"body field {name!r} must be an object of string values, got {type(value).__name__}"]
        bad = [k for k, v in value.items() if not isinstance(v, str)]
        if bad:
            return [f"body field {name!r}: values must be strings (not for {', '.join(map(repr, bad))})"]
        return []
    if param.data_type == "object" and not isinstance(value, Mapping):
        return [f"body field {name!r} must be an object, got {type(value).__name__}"]
    return []


def _check_primitive(type_name: str, value: Any, where: str) -> list[str]:
    ok: bool
    if type_name == "string":
        ok = isinstance(value, str)
    elif type_name in ("int", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif type_name == "double":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif type_name == "boolean":
        ok = isinstance(value, bool)
    elif type_name == "object":
        ok = isinstance(value, Mapping)
    else:  # Date
        ok = isinstance(value, str) and parse_ari_date(value) is not None
    if ok:
        return []
    return [f"{where}: expected {type_name}, got {type(value).__name__} {value!r:.60}"]


def parse_ari_date(text: str) -> datetime | None:
    """Asterisk writes dates as `2026-11-23T23:47:04.123+0000` (ast_json_timeval)."""
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def format_ari_date(moment: datetime) -> str:
    """The Asterisk form of a timestamp, milliseconds and a +HHMM offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")
