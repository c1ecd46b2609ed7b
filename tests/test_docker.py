"""docker/: compose file, Dockerfiles and the example config, checked without Docker.

Docker is not available where the tests run, so the files are read as data: compose.yaml
(PyYAML) must name the three services, mount only paths that exist, and agree on ports with
the Asterisk configs and docker/config.toml; config.toml must load through
`ari_app.settings.load_settings`; the Dockerfiles must build what compose runs, as a
non-root user, with the app's command line accepted by the real CLI parser.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from ari_app.cli import build_parser
from ari_app.settings import AriSettings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
ASTERISK_CONFIG = ROOT / "asterisk-config"
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


def _expand(value: str) -> str:
    """Compose-style ${VAR:-default} with an empty environment (what a fresh checkout gets)."""

    def sub(m: re.Match) -> str:
        if m.group(2) is None:
            raise AssertionError(f"{value}: ${{{m.group(1)}}} has no default")
        return m.group(2)

    return _VAR.sub(sub, value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def settings():
    return load_settings(DOCKER / "config.toml", environ={})


def _mounts(service: dict) -> list[tuple[str, str, str]]:
    out = []
    for spec in service.get("volumes", []):
        parts = _expand(spec).split(":")
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else "rw"
        out.append((source, target, mode))
    return out


def _conf_value(name: str, key: str) -> str:
    for line in (ASTERISK_CONFIG / name).read_text().splitlines():
        line = line.split(";", 1)[0].strip()
        if "=" in line and line.split("=", 1)[0].strip() == key:
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"{name}: {key} not set")


def _dockerfile(name: str) -> str:
    # join continuation lines so each instruction is one line
    return re.sub(r"\\\n", " ", (DOCKER / name).read_text())


def _instructions(name: str, keyword: str) -> list[str]:
    return [
        line.strip()[len(keyword) :].strip()
        for line in _dockerfile(name).splitlines()
        if line.strip().upper().startswith(keyword + " ")
    ]


def _exec_form(text: str) -> list[str]:
    return yaml.safe_load(text)  # a JSON array is valid YAML


# --------------------------------------------------------------------------- compose


def test_compose_services_and_dependencies(compose):
    services = compose["services"]
    assert set(services) == {"asterisk", "kayako-voice", "kayako-sim"}
    graph = {name: set(svc.get("depends_on", [])) for name, svc in services.items()}
    for name, deps in graph.items():
        assert deps <= set(services), f"{name} depends on unknown {deps - set(services)}"
    # no cycles: repeatedly remove services whose dependencies are all gone
    remaining = dict(graph)
    while remaining:
        ready = [n for n, d in remaining.items() if not d & set(remaining)]
        assert ready, f"depends_on cycle among {sorted(remaining)}"
        for n in ready:
            del remaining[n]
    for name in ("asterisk", "kayako-voice", "kayako-sim"):
        build = services[name]["build"]
        assert (DOCKER / build["context"] / build["dockerfile"]).resolve().is_file(), name


def test_compose_bind_mounts_exist(compose):
    named = set(compose.get("volumes", {}))
    for name, svc in compose["services"].items():
        for source, target, _ in _mounts(svc):
            assert target.startswith("/"), f"{name}: {target}"
            if source.startswith((".", "/")):
                assert (DOCKER / source).resolve().exists(), f"{name}: {source} does not exist"
            else:
                assert source in named, f"{name}: named volume {source} not declared"


def test_asterisk_gets_every_config_read_only(compose):
    mounts = {Path(src).name: (tgt, mode) for src, tgt, mode in _mounts(compose["services"]["asterisk"])}
    for conf in sorted(ASTERISK_CONFIG.glob("*.conf")):
        assert conf.name in mounts, f"{conf.name} is not mounted into Asterisk"
        assert mounts[conf.name] == (f"/etc/asterisk/{conf.name}", "ro")


def test_rtp_needs_host_networking(compose):
    services = compose["services"]
    for name in ("asterisk", "kayako-voice"):
        assert services[name].get("network_mode") == "host", name
        assert "ports" not in services[name], f"{name}: ports mean nothing with host networking"


def test_ports_agree_across_configs(compose, settings):
    # the app finds ARI where http.conf binds it
    ari = urlsplit(settings.ari.url)
    assert (ari.hostname, ari.port) == (
        _conf_value("http.conf", "bindaddr"),
        int(_conf_value("http.conf", "bindport")),
    )
    # and the Kayako-compatible server where compose publishes it
    sim = compose["services"]["kayako-sim"]
    kayako = urlsplit(settings.kayako.url)
    published = [p.split(":") for p in sim["ports"]]
    assert [kayako.hostname, str(kayako.port), str(kayako.port)] in published
    args = sim["command"]
    assert args[0] == "kayako-sim"
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert args[args.index("--port") + 1] == str(kayako.port)
    # RTP ranges: Asterisk's and the app's must not overlap on the shared host network
    start, end = int(_conf_value("rtp.conf", "rtpstart")), int(_conf_value("rtp.conf", "rtpend"))
    assert end < settings.media.rtp_port_min or start > settings.media.rtp_port_max
    # the images say so too
    assert f"{settings.media.rtp_port_min}-{settings.media.rtp_port_max}/udp" in " ".join(
        _instructions("Dockerfile", "EXPOSE")
    )
    assert f"{settings.web.port}/tcp" in " ".join(_instructions("Dockerfile", "EXPOSE"))
    assert f"{start}-{end}/udp" in " ".join(_instructions("asterisk.Dockerfile", "EXPOSE"))


def test_kb_articles_reach_both_app_containers(compose, settings):
    for name in ("kayako-voice", "kayako-sim"):
        mounts = _mounts(compose["services"][name])
        data = [(src, tgt) for src, tgt, _ in mounts if settings.storage.articles.startswith(tgt + "/")]
        assert data, f"{name}: {settings.storage.articles} is not under any mount"
        src, tgt = data[0]
        assert (DOCKER / src / settings.storage.articles[len(tgt) + 1 :]).resolve().is_file()


# --------------------------------------------------------------------------- config.toml


def test_example_config_loads_and_matches_asterisk(settings):
    defaults = AriSettings()
    assert settings.ari.app == defaults.app == "kayako-voice"
    assert settings.ari.username == defaults.username
    assert settings.ari.password == _conf_value("ari.conf", "password")
    assert settings.ari.overflow_context == "kayako-overflow"
    assert settings.ari.transfer_context == "kayako-agents"
    assert settings.ari.agent_endpoint == "PJSIP/agent100"
    for path in (settings.storage.database, settings.stt.cache_dir, settings.tts.cache_dir):
        assert path.startswith("/var/lib/kayako-voice/"), path


def test_example_config_with_a_typo_is_refused(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text((DOCKER / "config.toml").read_text().replace("rtp_port_min", "rtp_port_minimum"))
    with pytest.raises(SettingsError, match="media.rtp_port_minimum"):
        load_settings(bad, environ={})


# --------------------------------------------------------------------------- Dockerfiles


def test_app_dockerfile(compose):
    text = _dockerfile("Dockerfile")
    froms = _instructions("Dockerfile", "FROM")
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text and len(froms) >= 2
    assert re.search(r"pip install \.(\s|$)", text)
    users = _instructions("Dockerfile", "USER")
    assert users and users[-1] not in ("root", "0")
    entry = _exec_form(_instructions("Dockerfile", "ENTRYPOINT")[-1])
    cmd = _exec_form(_instructions("Dockerfile", "CMD")[-1])
    assert entry == ["kayako-voice"]
    argv = cmd
    assert argv[argv.index("--config") + 1] == "/etc/kayako-voice/config.toml"
    # the real CLI accepts both the image's command and compose's
    assert build_parser().parse_args(argv).command == "serve"
    assert build_parser().parse_args(compose["services"]["kayako-voice"]["command"]).command == "serve"
    assert build_parser().parse_args(compose["services"]["kayako-sim"]["command"]).command == "kayako-sim"
    # the config the command names is the one compose mounts
    mounts = {tgt: src for src, tgt, _ in _mounts(compose["services"]["kayako-voice"])}
    assert (DOCKER / mounts["/etc/kayako-voice/config.toml"]).resolve() == DOCKER / "config.toml"
    # the build context sends only what the image copies
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    assert ignore[0] == "*" or "*" in ignore
    for copied in ("pyproject.toml", "ari_app", "media", "nlu", "kayako_client"):
        assert f"!{copied}" in ignore or f"!{copied}/" in ignore


def test_asterisk_dockerfile_builds_22_from_source():
    text = _dockerfile("asterisk.Dockerfile")
    froms = _instructions("asterisk.Dockerfile", "FROM")
    assert len(froms) >= 2, "multi-stage: build, then a slim runtime"
    version = re.search(r"ARG ASTERISK_VERSION=(\S+)", text)
    assert version and version.group(1).startswith("22.")
    assert "downloads.asterisk.org/pub/telephony/asterisk" in text
    assert "sha256sum -c" in text
    assert "--with-pjproject-bundled" in text
    assert _instructions("asterisk.Dockerfile", "USER")[-1] == "asterisk"
    entry = _exec_form(_instructions("asterisk.Dockerfile", "ENTRYPOINT")[-1])
    script = DOCKER / Path(entry[0]).name
    assert script.is_file() and os.access(script, os.X_OK)
    body = script.read_text()
    assert "exec /usr/sbin/asterisk -f" in body
    # the TLS transport's files are the ones the entrypoint creates
    assert _conf_value("pjsip.conf", "cert_file") in body.replace("$keys", "/etc/asterisk/keys")
    assert body.startswith("#!/bin/sh\n")
