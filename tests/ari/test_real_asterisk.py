"""The same client against a real Asterisk, when one is given (KAYAKO_VOICE_TEST_ARI_URL, plus
KAYAKO_VOICE_TEST_ARI_USER / _PASSWORD / _APP); skipped otherwise. Checks the operations that
need no call: ping, info, the WebSocket and the application registration it causes."""

from __future__ import annotations

import os

import pytest

from ari_app.ari.client import AriClient
from ari_app.ari.spec import AriSpec

URL = os.environ.get("KAYAKO_VOICE_TEST_ARI_URL", "")

pytestmark = [
    pytest.mark.real_asterisk,
    pytest.mark.skipif(not URL, reason="KAYAKO_VOICE_TEST_ARI_URL not set (no real Asterisk)"),
]


async def test_real_asterisk_accepts_our_client(spec: AriSpec) -> None:
    client = AriClient(
        URL,
        os.environ.get("KAYAKO_VOICE_TEST_ARI_USER", "kayako-voice"),
        os.environ.get("KAYAKO_VOICE_TEST_ARI_PASSWORD", "kayako-voice"),
        os.environ.get("KAYAKO_VOICE_TEST_ARI_APP", "kayako-voice-test"),
        spec=spec,
    )
    try:
        await client.connect(timeout_s=4)
        assert (await client.ping())["ping"] == "pong"
        info = await client.asterisk_info()
        spec.validate_model("AsteriskInfo", info, allow_extra=True)
        assert (await client.get_application())["name"] == client.app
        for channel in await client.list_channels():
            assert channel.id
    finally:
        await client.close()
    assert client.spec_warnings == []
