"""Encryption at rest, forget-a-caller, retention purge and log masking, on real SQLite."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from datetime import UTC, datetime

import pytest
from ops_seed import seeded_store

from ari_app.cli import main
from ari_app.logs import JsonFormatter, log_event, mask
from ari_app.privacy import (
    EncryptionKeyError,
    FernetFieldCipher,
    ForgetRequestError,
    forget_caller,
    generate_key,
    purge_expired,
)
from ari_app.settings import SettingsError, load_settings
from ari_app.store import CallStore
from kayako_client.models import OutboundCase
from kayako_client.outbox import CaseOutbox

KEY = generate_key()


def raw_dump(path) -> str:
    """Every text value in the file's calls and turns tables, as SQLite holds them."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT * FROM calls").fetchall() + db.execute("SELECT * FROM turns").fetchall()
    finally:
        db.close()
    return "\n".join(str(v) for row in rows for v in row)


@pytest.fixture(params=["plain", "encrypted"])
def store(request, tmp_path):
    cipher = FernetFieldCipher(KEY) if request.param == "encrypted" else None
    s = seeded_store(tmp_path / "calls.db", cipher=cipher)
    yield s
    s.close()


def test_encrypted_at_rest_and_readable_through_the_store(tmp_path):
    path = tmp_path / "calls.db"
    store = seeded_store(path, cipher=FernetFieldCipher(KEY))
    raw = raw_dump(path)
    for secret in ("jane.doe@example.com", "Jane Doe", "2065550101", "my email is"):
        assert secret not in raw
    assert "enc:v1:" in raw
    call = store.call("c1")
    assert call["caller_email"] == "jane.doe@example.com" and call["caller_name"] == "Jane Doe"
    assert call["caller_phone"] == "+12065550101"
    assert "jane.doe@example.com" in store.turns("c1")[0]["text"]
    store.close()
    # another key cannot read it, and says so
    other = CallStore(path, cipher=FernetFieldCipher(generate_key()))
    with pytest.raises(EncryptionKeyError, match="does not open"):
        other.call("c1")
    other.close()


def test_plaintext_rows_written_before_encryption_stay_readable(tmp_path):
    path = tmp_path / "calls.db"
    seeded_store(path).close()
    store = CallStore(path, cipher=FernetFieldCipher(KEY))
    assert store.call("c3")["caller_email"] == "sam@copperline.example"
    # forget still finds them: the lookup column holds the plain normalised value
    assert forget_caller(store, email="SAM@copperline.example").calls == 1
    store.close()


def test_bad_key_is_a_clear_settings_error(tmp_path, monkeypatch):
    with pytest.raises(EncryptionKeyError, match="44 characters"):
        FernetFieldCipher("not-a-key")
    cfg = tmp_path / "kv.toml"
    cfg.write_text(f'[storage]\ndatabase = "{tmp_path / "x.db"}"\nencryption_key = "short"\n')
    from ari_app.privacy import cipher_from_settings

    with pytest.raises(SettingsError, match="storage.encryption_key"):
        cipher_from_settings(load_settings(str(cfg)))


@pytest.mark.parametrize("phone", ["+12065550101", "(206) 555-0101", "1 206 555 0101"])
def test_forget_by_phone_erases_every_call_of_that_caller_only(store, phone):
    before_other = store.call("c2")
    result = forget_caller(store, phone=phone, actor="test")
    assert sorted(result.call_ids) == ["c1", "c4"]
    assert result.calls == 2 and result.turns == 6  # c1: caller + 2 agent turns; c4 the same
    for call_id in ("c1", "c4"):
        call = store.call(call_id)
        assert call["caller_phone"] == call["caller_email"] == call["caller_name"] == call["summary"] == ""
        assert call["erased_at"]
        assert all(t["text"] == "" for t in store.turns(call_id))
        assert call["outcome"] in ("resolved", "escalated")  # analytics keep the outcome
    assert [t["latency_ms"] for t in store.turns("c1") if t["speaker"] == "agent"] == [400.0, 500.0]
    assert store.call("c2") == before_other
    assert store.call("c6")["caller_email"] == "li@example.org"
    entry = [e for e in store.audit_events() if e["action"] == "caller-forgotten"][-1]
    assert entry["actor"] == "test"
    assert "calls=2" in entry["detail"] and "0101" in entry["detail"]
    assert "2065550101" not in entry["detail"] and "555-0101" not in entry["detail"]


def test_forget_by_email_and_nothing_found(store):
    assert forget_caller(store, email=" Li@Example.org ").call_ids == ("c6",)
    assert store.call("c6")["caller_phone"] == ""
    nobody = forget_caller(store, email="nobody@example.com")
    assert nobody.calls == 0
    assert store.audit_events()[-1]["action"] == "caller-forgotten"  # the request itself is on record


@pytest.mark.parametrize(
    "kwargs,msg",
    [
        ({}, "phone number or an email"),
        ({"phone": "call me"}, "not a phone"),
        ({"email": "jane"}, "not an email"),
    ],
)
def test_forget_rejects_bad_requests_and_changes_nothing(store, kwargs, msg):
    before = store.calls()
    with pytest.raises(ForgetRequestError, match=msg):
        forget_caller(store, **kwargs)
    assert store.calls() == before


def test_forget_erases_delivered_outbox_copy_and_counts_waiting_ones(tmp_path):
    path = tmp_path / "calls.db"
    store = seeded_store(path, cipher=FernetFieldCipher(KEY))
    outbox = CaseOutbox(path, client=None)  # type: ignore[arg-type]  # enqueue needs no client
    for call_id in ("c1", "c4"):
        outbox.enqueue(
            OutboundCase(
                call_id=call_id,
                subject="Password reset for Jane Doe",
                contents_html="<p>jane.doe@example.com called</p>",
                requester_email="jane.doe@example.com",
                requester_phone="+12065550101",
            )
        )
    outbox._db.execute("UPDATE case_outbox SET state='delivered' WHERE call_id='c1'")
    outbox.close()
    result = forget_caller(store, email="jane.doe@example.com")
    assert (result.outbox_erased, result.outbox_waiting) == (1, 1)
    db = sqlite3.connect(path)
    payloads = dict(db.execute("SELECT call_id, payload FROM case_outbox").fetchall())
    db.close()
    assert "jane" not in payloads["c1"].lower() and json.loads(payloads["c1"])["call_id"] == "c1"
    assert "jane.doe@example.com" in payloads["c4"]  # still owed to Kayako
    store.close()


def test_retention_purge_erases_only_old_calls(store):
    now = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    result = purge_expired(store, retention_days=1, actor="test", now=now)
    # cutoff 2025-03-02T12:00: c1..c4 started before it, c5 (16:30) after
    assert sorted(result.call_ids) == ["c1", "c2", "c3", "c4"]
    assert store.call("c5")["erased_at"] is None and store.call("c6")["caller_email"] == "li@example.org"
    assert all(t["text"] == "" for t in store.turns("c3"))
    assert store.audit_events()[-1]["action"] == "retention-purge"
    again = purge_expired(store, retention_days=1, now=now)
    assert again.calls == 0  # already erased rows are not touched twice
    assert purge_expired(store, retention_days=0).calls == 0  # 0 keeps everything
    with pytest.raises(ValueError):
        purge_expired(store, retention_days=-1)


def test_privacy_forget_command(tmp_path, capsys):
    path = tmp_path / "calls.db"
    seeded_store(path, cipher=FernetFieldCipher(KEY)).close()
    cfg = tmp_path / "kv.toml"
    keyfile = tmp_path / "key"
    keyfile.write_text(KEY + "\n")
    cfg.write_text(f'[storage]\ndatabase = "{path}"\nencryption_key_file = "{keyfile}"\n')
    assert main(["privacy", "forget", "--phone", "+1 206 555 0101", "--config", str(cfg)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["forgotten"]["calls"] == 2
    assert main(["privacy", "forget", "--config", str(cfg)]) == 2
    assert "phone number or an email" in capsys.readouterr().err
    store = CallStore(path, cipher=FernetFieldCipher(KEY))
    assert store.call("c1")["caller_phone"] == "" and store.call("c6")["caller_name"] == "Li Wei"
    store.close()


def test_logs_mask_emails_and_phones():
    assert mask("call from +12065550101 jane.doe@example.com") == "call from +***0101 j***@example.com"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.privacy.mask")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        log_event(logger, "caller said jane.doe@example.com", call_id="c1", phone="+12065550101")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert "jane.doe@example.com" not in stream.getvalue() and "2065550101" not in stream.getvalue()
    assert line["msg"] == "caller said j***@example.com" and line["phone"] == "+***0101"


def test_forget_logs_nothing_unmasked(store, caplog):
    caplog.set_level(logging.INFO, logger="ari_app.privacy")
    forget_caller(store, phone="+12065550101", email="jane.doe@example.com")
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "caller forgotten" in text
    assert "2065550101" not in text and "jane.doe@example.com" not in text
