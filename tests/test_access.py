"""The operations routes over real HTTP on 127.0.0.1: roles, audit, admin actions, /metrics."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from ops_seed import seeded_store

from ari_app.access import AccessTokens, fingerprint, require
from ari_app.admin_web import add_operations_routes
from ari_app.metrics import CallMetrics
from ari_app.privacy import FernetFieldCipher, generate_key
from ari_app.settings import Settings, StorageSettings, WebSettings

VIEWER = "viewer-token-0123456789"
ADMIN = "admin-token-9876543210"


@pytest.fixture
async def rig(tmp_path):
    store = seeded_store(tmp_path / "calls.db", cipher=FernetFieldCipher(generate_key()))
    settings = Settings(
        storage=StorageSettings(
            database=str(tmp_path / "calls.db"), retention_days=30, encryption_key="k" * 44
        ),
        web=WebSettings(admin_token=ADMIN, viewer_token=VIEWER),
    )
    tokens = AccessTokens.from_settings(settings.web)
    app = web.Application()
    stats = {"pending": 2, "delivered": 5, "dead": 1, "oldest_pending_age_s": 42.0}
    metrics = add_operations_routes(app, store, lambda: stats, tokens, settings=settings)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client, store, metrics
    await client.close()
    store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_report_needs_a_viewer_token(rig):
    client, _, _ = rig
    resp = await client.get("/api/report")
    assert resp.status == 401 and "Bearer" in resp.headers["WWW-Authenticate"]
    assert (await client.get("/api/report", headers=bearer("wrong-token-000000"))).status == 401
    for token in (VIEWER, ADMIN):
        resp = await client.get("/api/report", headers=bearer(token))
        assert resp.status == 200
        body = await resp.json()
        assert body["total_calls"] == 7 and body["outbox"]["dead"] == 1
    resp = await client.get(f"/api/report?token={VIEWER}&since=2025-03-03")
    assert (await resp.json())["total_calls"] == 2
    resp = await client.get("/api/report?since=yesterday", headers=bearer(VIEWER))
    assert resp.status == 400 and "ISO" in (await resp.json())["error"]


async def test_viewer_cannot_use_admin_routes_and_refusals_are_audited(rig):
    client, store, _ = rig
    for method, path in (
        ("POST", "/api/admin/forget"),
        ("POST", "/api/admin/purge"),
        ("GET", "/api/admin/config"),
    ):
        resp = await client.request(method, path, headers=bearer(VIEWER), json={"phone": "+12065550101"})
        assert resp.status == 403, path
        resp = await client.request(method, path, json={})
        assert resp.status == 401, path
    assert store.call("c1")["caller_phone"] == "+12065550101"  # nothing was erased
    denied = [e for e in store.audit_events() if e["action"] == "access-denied"]
    assert len(denied) == 6
    assert (
        denied[0]["actor"] == f"viewer:{fingerprint(VIEWER)}"
        and denied[0]["detail"] == "POST /api/admin/forget"
    )
    assert denied[1]["actor"] == "anonymous"
    assert all(VIEWER not in e["detail"] + e["actor"] for e in store.audit_events())


async def test_admin_forget_purge_and_redacted_config(rig):
    client, store, _ = rig
    resp = await client.post(
        "/api/admin/forget", headers=bearer(ADMIN), json={"email": "jane.doe@example.com"}
    )
    assert resp.status == 200
    assert sorted((await resp.json())["call_ids"]) == ["c1", "c4"]
    assert store.call("c4")["caller_email"] == ""
    actions = [(e["actor"], e["action"]) for e in store.audit_events()]
    actor = f"admin:{fingerprint(ADMIN)}"
    assert (actor, "admin-request") in actions and (actor, "caller-forgotten") in actions

    resp = await client.post("/api/admin/purge", headers=bearer(ADMIN), json={"retention_days": 36500})
    assert resp.status == 200 and (await resp.json())["calls"] == 0
    resp = await client.post("/api/admin/purge", headers=bearer(ADMIN))  # storage.retention_days = 30
    assert (await resp.json())["calls"] == 5  # every call not yet erased is older than 30 days
    assert store.audit_events()[-1]["action"] == "retention-purge"

    resp = await client.get("/api/admin/config", headers=bearer(ADMIN))
    config = await resp.json()
    text = await resp.text()
    assert config["storage"]["retention_days"] == 30
    assert config["web"]["admin_token"] == "***" and config["storage"]["encryption_key"] == "***"
    assert ADMIN not in text and VIEWER not in text and "k" * 44 not in text


@pytest.mark.parametrize(
    "body,status",
    [(b"{not json", 400), (b"[1, 2]", 400), (b'{"phone": 5}', 400), (b"{}", 400), (b'{"email": "x"}', 400)],
)
async def test_admin_forget_rejects_bad_bodies(rig, body, status):
    client, store, _ = rig
    before = store.calls()
    resp = await client.post(
        "/api/admin/forget", data=body, headers={**bearer(ADMIN), "Content-Type": "application/json"}
    )
    assert resp.status == status
    assert "error" in await resp.json()
    assert store.calls() == before


async def test_admin_purge_rejects_bad_days(rig):
    client, _, _ = rig
    for days in (0, -3, "7", True, 1.5):
        resp = await client.post("/api/admin/purge", headers=bearer(ADMIN), json={"retention_days": days})
        assert resp.status == 400, days


async def test_metrics_exposition(rig):
    client, _, metrics = rig
    metrics.call_started()
    metrics.call_started()
    metrics.call_ended("resolved")
    metrics.record_turn(
        latency_ms=640.0, stt_ms=120.0, tts_ms=0.0, stt_engine="faster-whisper", tts_engine="piper"
    )
    metrics.outbox_failures.inc()
    metrics.ari_reconnects.inc(2)
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert "kayako_voice_active_calls 1.0" in text
    assert 'kayako_voice_calls_total{outcome="resolved"} 1.0' in text
    assert 'kayako_voice_calls_total{outcome="escalated"} 0.0' in text
    assert 'kayako_voice_turn_latency_seconds_bucket{le="0.8"} 1.0' in text
    assert 'kayako_voice_turn_latency_seconds_bucket{le="0.6"} 0.0' in text
    assert 'kayako_voice_stt_seconds_count{engine="faster-whisper"} 1.0' in text
    assert 'kayako_voice_tts_seconds_count{engine="piper"} 1.0' in text
    assert 'kayako_voice_outbox_cases{state="pending"} 2.0' in text
    assert 'kayako_voice_outbox_cases{state="dead"} 1.0' in text
    assert "kayako_voice_outbox_oldest_pending_seconds 42.0" in text
    assert "kayako_voice_outbox_failures_total 1.0" in text
    assert "kayako_voice_ari_reconnects_total 2.0" in text


async def test_metrics_survive_a_broken_outbox():
    metrics = CallMetrics()
    app = web.Application()

    def broken() -> dict:
        raise OSError("database is locked")

    from ari_app.metrics import metrics_handler

    app.router.add_get("/metrics", metrics_handler(metrics, broken))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.get("/metrics")
        assert resp.status == 200 and "kayako_voice_active_calls" in await resp.text()


def test_tokens_roles_and_configuration():
    tokens = AccessTokens(viewer=["v" * 16], admin=["a" * 16])
    assert tokens.identify("v" * 16).role == "viewer"
    assert tokens.identify("a" * 16).may("viewer")
    assert not tokens.identify("v" * 16).may("admin")
    assert tokens.identify("x" * 16) is None
    assert not AccessTokens().configured  # nothing configured: nobody gets in
    assert AccessTokens().identify("") is None
    with pytest.raises(ValueError, match="too short"):
        AccessTokens(admin=["abc"])
    with pytest.raises(ValueError, match="unknown role"):
        require("root", tokens)


async def test_closed_when_no_tokens_are_configured(tmp_path):
    store = seeded_store(tmp_path / "calls.db")
    app = web.Application()
    add_operations_routes(app, store, None, AccessTokens.from_settings(WebSettings()))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/api/report")).status == 401
        assert (await client.get("/api/report?token=")).status == 401
        assert (await client.post("/api/admin/purge", json={})).status == 401
        assert (await client.get("/dashboard")).status == 200  # the page itself holds no data
    store.close()
