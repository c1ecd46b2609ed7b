"""Asterisk 22 ARI test double: `AsteriskDouble` (REST + events, spec-checked), simulated calls
(`SimCall`, `AgentLeg`) and their RTP side (`MediaPeer`). Used by tests and for manual runs:
`python -m ari_app.ari.double --port 8088`."""

from ari_app.ari.double.asterisk_double import AsteriskDouble, DoubleBug, RecordedRequest
from ari_app.ari.double.media_peer import MediaPeer, ReceivedPacket
from ari_app.ari.double.sim_call import AgentLeg, Continued, SimCall

__all__ = [
    "AgentLeg",
    "AsteriskDouble",
    "Continued",
    "DoubleBug",
    "MediaPeer",
    "ReceivedPacket",
    "RecordedRequest",
    "SimCall",
]
