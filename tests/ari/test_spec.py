"""The spec checker: requests and events that do not match Asterisk 22.10.1's ARI are caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from ari_app.ari.spec import SPEC_DIR_ENV, AriSpec, SpecNotFound, SpecViolation, locate_spec_dir


def channel_json(state: str = "Up") -> dict:
    return {
        "id": "1700000000.1",
        "name": "PJSIP/trunk-00000001",
        "state": state,
        "protocol_id": "",
        "caller": {"name": "", "number": "+15550100"},
        "connected": {"name": "", "number": ""},
        "accountcode": "",
        "dialplan": {
            "context": "from-trunk",
            "exten": "s",
            "priority": 1,
            "app_name": "Stasis",
            "app_data": "x",
        },
        "creationtime": "2026-11-23T23:47:04.123+0000",
        "language": "en",
    }


def event(kind: str, **fields) -> dict:
    return {
        "type": kind,
        "application": "kayako-voice",
        "timestamp": "2026-11-23T23:47:04.123+0000",
        **fields,
    }


def test_valid_requests_match_their_operations(spec: AriSpec) -> None:
    m = spec.validate_request("POST", "/channels/externalMedia", {"app": ["a"], "format": ["slin16"]})
    assert m.operation.nickname == "externalMedia"  # the literal segment wins over {channelId}
    m = spec.validate_request("POST", "/ari/channels/1700.1/answer")
    assert m.operation.nickname == "answer" and m.path_params == {"channelId": "1700.1"}
    m = spec.validate_request("POST", "/bridges/b1/addChannel", [("channel", "a,b"), ("api_key", "u:p")])
    assert m.operation.nickname == "addChannel"
    m = spec.validate_request(
        "POST",
        "/channels",
        {"endpoint": ["PJSIP/agent100"], "app": ["a"]},
        {"variables": {"PJSIP_HEADER(add,X-A)": "1"}},
    )
    assert m.operation.nickname == "originate"
    spec.validate_request("DELETE", "/channels/x", {"reason": ["busy"]})
    spec.validate_request("POST", "/channels/x/variable", {"variable": ["V"], "report_events": ["yes"]})


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "needle"),
    [
        ("POST", "/channels/x/answr", {}, None, "no such path"),
        ("GET", "/channels/x/answer", {}, None, "method GET not allowed"),
        (
            "POST",
            "/channels/externalMedia",
            {"app": ["a"]},
            None,
            "missing required query parameter 'format'",
        ),
        ("DELETE", "/channels/x", {"reason": ["hungup"]}, None, "'hungup' is not one of"),
        ("POST", "/channels/x/answer", {"now": ["1"]}, None, "unknown query parameter 'now'"),
        ("POST", "/channels", {"endpoint": ["P/1"], "timeout": ["soon"]}, None, "not an integer"),
        (
            "POST",
            "/channels/x/variable",
            {"variable": ["V"], "report_events": ["maybe"]},
            None,
            "not a boolean",
        ),
        ("POST", "/channels", {"endpoint": ["P/1"]}, {"variables": {"A": 1}}, "values must be strings"),
        ("POST", "/channels", {"endpoint": ["P/1"]}, {"headers": {}}, "unknown body field 'headers'"),
        ("POST", "/channels/x/variables", {}, None, "missing required body parameter 'variables'"),
        (
            "GET",
            "/channels/x/variable",
            [("variable", "A"), ("variable", "B")],
            None,
            "allowMultiple is false",
        ),
        ("POST", "/channels/x/dial", {"timeout": ["-1"]}, None, "below the minimum"),
        ("GET", "/events", {}, None, "missing required query parameter 'app'"),
    ],
)
def test_invalid_requests_are_rejected(spec: AriSpec, method, path, query, body, needle) -> None:
    with pytest.raises(SpecViolation) as info:
        spec.validate_request(method, path, query, body)
    assert needle in str(info.value)


def test_all_problems_are_reported_at_once(spec: AriSpec) -> None:
    with pytest.raises(SpecViolation) as info:
        spec.validate_request("POST", "/channels/externalMedia", {"direction": ["in"], "bogus": ["1"]})
    assert len(info.value.problems) == 4  # bad enum, unknown param, missing app, missing format


def test_events_are_checked_against_events_json(spec: AriSpec) -> None:
    spec.validate_event(event("StasisStart", args=[], channel=channel_json()))
    spec.validate_event(
        event("ChannelDestroyed", cause=16, cause_txt="Normal Clearing", channel=channel_json())
    )
    with pytest.raises(SpecViolation, match="missing required field 'args'"):
        spec.validate_event(event("StasisStart", channel=channel_json()))
    with pytest.raises(SpecViolation, match="cause: expected int"):
        spec.validate_event(event("ChannelDestroyed", cause="16", cause_txt="x", channel=channel_json()))
    with pytest.raises(SpecViolation, match="'Talking' is not one of"):
        spec.validate_event(event("ChannelStateChange", channel=channel_json(state="Talking")))
    with pytest.raises(SpecViolation, match="unknown event type 'FutureThing'"):
        spec.validate_event(event("FutureThing"))
    with pytest.raises(SpecViolation, match="not in model StasisEnd"):
        spec.validate_event(event("StasisEnd", channel=channel_json(), extra=1))
    with pytest.raises(SpecViolation, match="timestamp: expected Date"):
        spec.validate_event({**event("StasisEnd", channel=channel_json()), "timestamp": "yesterday"})
    spec.validate_event({**event("StasisEnd", channel=channel_json()), "extra": 1}, allow_extra=True)


def test_models_and_lists(spec: AriSpec) -> None:
    spec.validate_model("List[Channel]", [channel_json()])
    with pytest.raises(SpecViolation, match=r"\[0\]: missing required field 'id'"):
        spec.validate_model("List[Channel]", [{k: v for k, v in channel_json().items() if k != "id"}])


def test_spec_dir_from_env_and_clear_error_when_missing(monkeypatch, tmp_path: Path, spec: AriSpec) -> None:
    monkeypatch.setenv(SPEC_DIR_ENV, str(spec.spec_dir))
    assert locate_spec_dir() == spec.spec_dir
    monkeypatch.setenv(SPEC_DIR_ENV, str(tmp_path))
    with pytest.raises(SpecNotFound, match=SPEC_DIR_ENV):
        locate_spec_dir()
