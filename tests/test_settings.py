"""Settings: defaults, TOML, environment overrides, secret files, clear errors."""

import pytest

from ari_app.cli import main
from ari_app.settings import SettingsError, load_settings, redacted


def test_embedded_defaults_are_valid():
    s = load_settings(None, environ={})
    assert s.company.name
    assert s.media.codec == "ulaw"


def test_toml_then_env_override(tmp_path):
    cfg = tmp_path / "k.toml"
    cfg.write_text('[company]\nname = "Acme"\n[ari]\nmax_calls = 7\n')
    s = load_settings(cfg, environ={"KAYAKO_VOICE_ARI_MAX_CALLS": "9", "KAYAKO_VOICE_MEDIA_CODEC": "ulaw"})
    assert s.company.name == "Acme"
    assert s.ari.max_calls == 9
    assert s.media.codec == "ulaw"


def test_secret_from_file_and_redacted(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    s = load_settings(None, environ={"KAYAKO_VOICE_KAYAKO_PASSWORD_FILE": str(secret)})
    assert s.kayako.password == "s3cret"
    assert redacted(s)["kayako"]["password"] == "***"


@pytest.mark.parametrize(
    "toml, env, needle",
    [
        ("[ari]\nmax_calls = 'many'\n", {}, "ari.max_calls"),
        ("[nosuch]\nx = 1\n", {}, "unknown section"),
        ("[ari]\nnope = 1\n", {}, "ari.nope"),
        ("[media]\ncodec = 'opus'\n", {}, "media.codec"),
        ("not toml = = 1", {}, "not valid TOML"),
        ("", {"KAYAKO_VOICE_ARI_MAX_CALLS": "0"}, "ari.max_calls"),
        ("", {"KAYAKO_VOICE_ARI_URL": "ftp://x"}, "ari.url"),
        ("", {"KAYAKO_VOICE_STT_ENGINE": "vosk"}, "stt.vosk_model_dir"),
        ("[stt]\nbeam_size = 0\n", {}, "stt.beam_size"),
        ("", {"KAYAKO_VOICE_STT_BEAM_SIZE": "wide"}, "stt.beam_size"),
        ("[stt]\nthreads = 0\n", {}, "stt.threads"),
        ("", {"KAYAKO_VOICE_STT_WORKERS": "0"}, "stt.workers"),
        ("[nlu]\nembedding_threads = 0\n", {}, "nlu.embedding_threads"),
        ("", {"KAYAKO_VOICE_MEDIA_NOPE": "1"}, "media.nope"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path, toml, env, needle):
    cfg = tmp_path / "k.toml"
    cfg.write_text(toml)
    with pytest.raises(SettingsError, match=needle.replace(".", r"\.") if "." in needle else needle):
        load_settings(cfg, environ=env)


def test_missing_config_file_is_a_clear_cli_error(tmp_path, capsys):
    rc = main(["--config", str(tmp_path / "missing.toml"), "doctor"])
    assert rc == 2
    assert "config file not found" in capsys.readouterr().err


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("serve", "demo", "doctor", "chat", "eval", "kb", "kayako-sim"):
        assert name in out


@pytest.mark.parametrize(
    "raw, hidden, kept",
    [
        ("caller +12065550101 said hi", "5550101", "0101"),
        ("call back on (206) 555-0101 please", "555-01", "0101"),
        ("phone=+44 20 7946 0958.", "7946 0", "0958"),
        ("email john.smith@gmail.com", "john.smith", "@gmail.com"),
    ],
)
def test_logs_mask_caller_phone_and_email(raw, hidden, kept):
    from ari_app.logs import mask

    out = mask(raw)
    assert hidden not in out and kept in out


def test_logs_keep_dates_addresses_and_timestamps():
    from ari_app.logs import mask

    text = "2026-11-23 rtp 127.0.0.1:20000 ts 1732400000.123 took 523 ms"
    assert mask(text) == text
