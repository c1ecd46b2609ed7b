"""`kayako-voice dial sip:EXT@HOST --say "..."`: smoke-test a deployment by calling it.

Owns the command: check the input, synthesize the caller's turns (`CallerVoice`, Debian flite),
place the call with `ari_app.softphone.Softphone`, transcribe what the far end said in each
turn (the configured STT, Whisper tiny.en by default, loaded while the call is set up) and
print, per turn, what we said, what the agent answered and how long it took to start
answering (end of our speech to its first voiced frame).

Exit status: 0 every turn got a reply; 1 the call failed (no answer within --timeout,
refused, dropped, or the softphone extra is missing); 2 bad input (URI, options, turn text);
3 the call worked but at least one turn got no reply within --timeout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
import wave
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ari_app.logs import log_event

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CALL_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_REPLY = 3


@dataclass(frozen=True)
class TurnReport:
    said: str  # "" for the agent's greeting
    reply: str
    response_s: float | None
    overlapped: bool
    replied: bool
    reply_audio_s: float


def _fail(message: str, code: int) -> int:
    print(f"kayako-voice dial: {message}", file=sys.stderr)
    return code


def _write_wav(path: Path, pcm: bytes, rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)


def _load_stt(settings: Any) -> Any:
    from ari_app.speech import configured_stt

    return configured_stt(settings)


def _transcribe(stt_future: Future[Any], pcm: bytes) -> str:
    return str(stt_future.result().transcribe(pcm).text)


def _print_text(uri: str, connect_s: float, reports: list[TurnReport], ended_by: str) -> None:
    print(f"Called {uri}: answered in {connect_s:.2f} s")
    for index, rep in enumerate(reports):
        if not rep.said:
            began = "" if rep.response_s is None else f" (began {rep.response_s:.2f} s after the answer)"
            print(f'Agent greeting: "{rep.reply}"{began}')
            continue
        number = index if reports[0].said == "" else index + 1
        print(f"Turn {number}")
        print(f'  we said:    "{rep.said}"')
        if not rep.replied:
            print("  agent said: (no reply within the timeout)")
        else:
            print(
                f'  agent said: "{rep.reply}"'
                if rep.reply
                else "  agent said: (audio, but no words recognized)"
            )
        if rep.response_s is not None and rep.response_s < 0:
            print(
                f"  answered:   {-rep.response_s:.2f} s before we stopped speaking"
                " (it spoke over us: an echo, or it did not wait for us)"
            )
        elif rep.response_s is not None:
            line = f"  answered:   {rep.response_s:.2f} s after we stopped speaking"
            if rep.overlapped:
                line += " (it also sent voice while we spoke: echo, or it talked over us)"
            print(line)
    print("The far end hung up." if ended_by == "remote" else "We hung up.")


def run(args: argparse.Namespace) -> int:
    from ari_app.softphone import (
        CallFailedError,
        DialOptions,
        SipUriError,
        Softphone,
        SoftphoneUnavailableError,
        parse_sip_uri,
    )

    try:
        target = parse_sip_uri(args.uri)
    except SipUriError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    timeout = float(getattr(args, "timeout", 10.0))
    local_port = int(getattr(args, "local_port", 0))
    if not 0 < timeout <= 600:
        return _fail(f"--timeout must be between 0 and 600 seconds, got {timeout:g}", EXIT_BAD_INPUT)
    if not 0 <= local_port <= 65535:
        return _fail(f"--local-port must be 0-65535, got {local_port}", EXIT_BAD_INPUT)
    says = list(getattr(args, "say", []) or [])
    for text in says:
        if not any(ch.isalnum() for ch in text):
            return _fail(f"--say {text!r} has no words to speak", EXIT_BAD_INPUT)
    wav_dir = Path(args.wav_out) if getattr(args, "wav_out", None) else None
    if wav_dir is not None:
        try:
            wav_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return _fail(f"--wav-out {wav_dir}: {exc}", EXIT_BAD_INPUT)

    from ari_app.caller_voice import SAMPLE_RATE, CallerVoice, CallerVoiceError

    try:
        voice = CallerVoice()
        turns = [(text, voice.speak(text).pcm) for text in says]
    except CallerVoiceError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)

    call_id = f"dial-{uuid.uuid4().hex[:12]}"
    options = DialOptions(timeout_s=timeout, local_port=local_port)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dial-stt")
    stt_future = pool.submit(_load_stt, args.settings)  # loads while the call is set up
    pending: list[tuple[Any, Future[str]]] = []

    def on_turn(turn: Any) -> None:
        pending.append((turn, pool.submit(_transcribe, stt_future, turn.far_pcm)))

    try:
        with Softphone(options) as phone:
            result = phone.call(target, turns, on_turn=on_turn, call_id=call_id)
    except SoftphoneUnavailableError as exc:
        pool.shutdown(wait=False, cancel_futures=True)
        return _fail(str(exc), EXIT_CALL_FAILED)
    except CallFailedError as exc:
        log_event(logger, "dial failed", call_id=call_id, error=str(exc))
        pool.shutdown(wait=False, cancel_futures=True)
        return _fail(str(exc), EXIT_CALL_FAILED)

    reports: list[TurnReport] = []
    try:
        for turn, future in pending:
            reports.append(
                TurnReport(
                    said=turn.said,
                    reply=future.result(),
                    response_s=turn.response_s,
                    overlapped=turn.overlapped,
                    replied=turn.replied,
                    reply_audio_s=len(turn.far_pcm) / (SAMPLE_RATE * 2),
                )
            )
    except Exception as exc:  # STT failed to load or decode: the call itself was fine
        logger.exception("dial: transcription failed")
        return _fail(f"the call worked but transcription failed: {exc}", EXIT_CALL_FAILED)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

    if wav_dir is not None:
        for index, (turn, _) in enumerate(pending):
            stem = "greeting" if not turn.said else f"turn{index if pending[0][0].said == '' else index + 1}"
            _write_wav(wav_dir / f"{stem}_agent.wav", turn.far_pcm, SAMPLE_RATE)
        for index, (_, pcm) in enumerate(turns, start=1):
            _write_wav(wav_dir / f"turn{index}_caller.wav", pcm, SAMPLE_RATE)

    spoken = [r for r in reports if r.said]
    code = EXIT_OK if all(r.replied for r in spoken) else EXIT_NO_REPLY
    if getattr(args, "json", False):
        print(
            json.dumps(
                {
                    "uri": target.uri,
                    "call_id": call_id,
                    "connect_s": round(result.connect_s, 3),
                    "greeting": next((r.reply for r in reports if not r.said), None),
                    "greeting_after_s": next(
                        (round(r.response_s, 3) for r in reports if not r.said and r.response_s is not None),
                        None,
                    ),
                    "turns": [
                        {
                            "said": r.said,
                            "reply": r.reply,
                            "replied": r.replied,
                            "response_s": None if r.response_s is None else round(r.response_s, 3),
                            "overlapped": r.overlapped,
                            "reply_audio_s": round(r.reply_audio_s, 2),
                        }
                        for r in spoken
                    ],
                    "ended_by": result.ended_by,
                    "exit": code,
                }
            )
        )
    else:
        _print_text(target.uri, result.connect_s, reports, result.ended_by)
    if code == EXIT_NO_REPLY:
        print("kayako-voice dial: at least one turn got no reply within --timeout", file=sys.stderr)
    return code
