"""The Asterisk 22 configs in asterisk-config/: parsed, cross-checked, linted.

A small parser of Asterisk's config format (sections, `key=value`, `key => value`,
templates `(!)` and inheritance `(tpl)`, `;` comments) reads every .conf; the tests then check
what a PBX admin would only find out at call time: endpoints that name a missing auth, aor,
transport or context; a Stasis app name that differs from ari.conf and the app's settings; an
RTP range too small for 50 calls (2 RTP sessions per call, 2 ports per session); modules the
app needs that are not required. The dialplan also goes through `asterisklint` (PyPI).
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ari_app.settings import AriSettings, CompanySettings, MediaSettings

CONFIG_DIR = Path(__file__).resolve().parent.parent / "asterisk-config"
DESIGN_CALLS = 50  # concurrent calls the shipped rtp.conf is sized for
RTP_SESSIONS_PER_CALL = 2  # caller leg + externalMedia leg
PORTS_PER_SESSION = 2  # even RTP port + odd RTCP port


# --------------------------------------------------------------------------- parser


class ConfParseError(ValueError):
    """A line of an Asterisk config file that the format does not allow; names file and line."""


@dataclass
class ConfSection:
    name: str
    line: int
    is_template: bool = False
    templates: tuple[str, ...] = ()
    options: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str, default: str | None = None) -> str | None:
        values = self.getall(key)
        return values[-1] if values else default

    def getall(self, key: str) -> list[str]:
        return [v for k, v in self.options if k == key]


@dataclass
class ConfFile:
    path: str
    sections: list[ConfSection]

    def named(self, name: str) -> list[ConfSection]:
        return [s for s in self.sections if s.name == name]

    def resolved(self, section: ConfSection) -> ConfSection:
        """The section with the options of its templates in front (Asterisk's inheritance order)."""
        options: list[tuple[str, str]] = []
        for tpl_name in section.templates:
            tpls = [s for s in self.named(tpl_name) if s.is_template or s.line < section.line]
            if not tpls:
                raise ConfParseError(f"{self.path}:{section.line}: unknown template ({tpl_name})")
            options.extend(self.resolved(tpls[0]).options)
        options.extend(section.options)
        return ConfSection(section.name, section.line, section.is_template, section.templates, options)

    def concrete(self) -> list[ConfSection]:
        return [self.resolved(s) for s in self.sections if not s.is_template and s.name != "general"]


_SECTION = re.compile(r"^\[([^\]]+)\]\s*(?:\(([^)]*)\))?$")
_OPTION = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(=>|=)\s*(.*)$")


def _strip_comment(line: str) -> str:
    out = []
    i = 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if line[i] == ";":
            break
        out.append(line[i])
        i += 1
    return "".join(out).strip()


def parse_conf(text: str, path: str = "<text>") -> ConfFile:
    sections: list[ConfSection] = []
    in_block_comment = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if in_block_comment:
            if "--;" in raw:
                in_block_comment = False
            continue
        if raw.lstrip().startswith(";--") and "--;" not in raw.lstrip()[3:]:
            in_block_comment = True
            continue
        line = _strip_comment(raw)
        if not line:
            continue
        if line.startswith("#"):
            raise ConfParseError(f"{path}:{lineno}: #include/#exec are not used in these configs: {line!r}")
        m = _SECTION.match(line)
        if m:
            flags = [f.strip() for f in (m.group(2) or "").split(",") if f.strip()]
            sections.append(
                ConfSection(
                    name=m.group(1).strip(),
                    line=lineno,
                    is_template="!" in flags,
                    templates=tuple(f for f in flags if f not in ("!", "+")),
                )
            )
            continue
        m = _OPTION.match(line)
        if not m:
            raise ConfParseError(f"{path}:{lineno}: not a section, key=value or key => value: {line!r}")
        if not sections:
            raise ConfParseError(f"{path}:{lineno}: option before the first [section]: {line!r}")
        sections[-1].options.append((m.group(1).strip().lower(), m.group(3).strip()))
    if in_block_comment:
        raise ConfParseError(f"{path}: block comment ;-- is never closed")
    return ConfFile(path, sections)


def load(name: str) -> ConfFile:
    path = CONFIG_DIR / name
    return parse_conf(path.read_text(encoding="utf-8"), str(path))


# --------------------------------------------------------------------------- dialplan model


@dataclass(frozen=True)
class Priority:
    context: str
    exten: str
    priority: str
    label: str
    app: str
    args: str


_APP_CALL = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s*(?:\((.*)\))?$", re.S)
_PRIO = re.compile(r"^(\d+|n|hint)(?:\(([A-Za-z0-9_-]+)\))?$")


def dialplan(conf: ConfFile) -> list[Priority]:
    out: list[Priority] = []
    for section in conf.sections:
        if section.name in ("general", "globals"):
            continue
        current_exten: str | None = None
        for key, value in section.options:
            if key == "exten":
                exten, prio, rest = (part.strip() for part in value.split(",", 2))
                current_exten = exten
            elif key == "same":
                if current_exten is None:
                    raise ConfParseError(f"[{section.name}]: 'same =>' before any 'exten =>'")
                prio, rest = (part.strip() for part in value.split(",", 1))
                exten = current_exten
            else:
                continue
            pm = _PRIO.match(prio)
            am = _APP_CALL.match(rest)
            if not pm or not am:
                raise ConfParseError(f"[{section.name}] {exten}: cannot parse priority {prio!r} / {rest!r}")
            out.append(
                Priority(section.name, exten, pm.group(1), pm.group(2) or "", am.group(1), am.group(2) or "")
            )
    return out


def _goto_targets(p: Priority) -> list[tuple[str, str]]:
    """(context, extension) pairs a Goto/GotoIf/Gosub jumps to (`ext,prio` stays in the context)."""
    if p.app not in ("Goto", "GotoIf", "Gosub", "GosubIf"):
        return []
    args = p.args
    branches = [args.split("?", 1)[1]] if p.app.endswith("If") else [args]
    targets = []
    for branch in branches:
        for part in branch.split(":"):
            bits = [b.strip() for b in re.sub(r"\(.*\)$", "", part).split(",")]
            if len(bits) == 3:
                targets.append((bits[0], bits[1]))
            elif len(bits) == 2:
                targets.append((p.context, bits[0]))
    return targets


def reaches_app(plan: list[Priority], context: str, exten: str, app: str, seen: set | None = None) -> bool:
    seen = set() if seen is None else seen
    if (context, exten) in seen:
        return False
    seen.add((context, exten))
    for p in plan:
        if p.context != context or p.exten != exten:
            continue
        if p.app == app:
            return True
        for ctx, ext in _goto_targets(p):
            if reaches_app(plan, ctx, ext, app, seen):
                return True
    return False


# --------------------------------------------------------------------------- fixtures


ALL_CONFS = sorted(p.name for p in CONFIG_DIR.glob("*.conf"))


@pytest.fixture(scope="module")
def pjsip() -> ConfFile:
    return load("pjsip.conf")


@pytest.fixture(scope="module")
def plan() -> list[Priority]:
    return dialplan(load("extensions.conf"))


def _by_type(conf: ConfFile, kind: str) -> dict[str, ConfSection]:
    return {s.name: s for s in conf.concrete() if s.get("type") == kind}


# --------------------------------------------------------------------------- parser behaviour


def test_every_shipped_conf_parses():
    assert {"pjsip.conf", "extensions.conf", "ari.conf", "http.conf", "rtp.conf", "modules.conf"} <= set(
        ALL_CONFS
    )
    for name in ALL_CONFS:
        conf = load(name)
        assert conf.sections, f"{name} has no sections"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("key=value\n", "option before the first [section]"),
        ("[a]\nthis line is not an option\n", "<text>:2"),
        ("[a]\n#include other.conf\n", "#include"),
        ("[a](missing)\nx=1\n", "unknown template"),
        (";-- never closed\n[a]\n", "never closed"),
    ],
)
def test_parser_rejects_malformed_input_with_line(text, fragment):
    with pytest.raises(ConfParseError, match=re.escape(fragment)):
        conf = parse_conf(text)
        conf.concrete()


def test_parser_templates_comments_and_arrows():
    conf = parse_conf(
        "[base](!)\ntype=endpoint\nallow=ulaw ; trailing comment\n"
        ";-- a block\ncomment --;\n"
        "[phone](base)\nallow=alaw\nnote=semi\\;colon\n"
        "[ctx]\nexten => 1,1,NoOp(hi)\n same => n(x),Hangup()\n"
    )
    phone = conf.resolved(conf.named("phone")[0])
    assert phone.getall("allow") == ["ulaw", "alaw"]
    assert phone.get("type") == "endpoint"
    assert phone.get("note") == "semi;colon"
    assert [s.name for s in conf.concrete()] == ["phone", "ctx"]
    plan = dialplan(conf)
    assert [(p.exten, p.priority, p.label, p.app) for p in plan] == [
        ("1", "1", "", "NoOp"),
        ("1", "n", "x", "Hangup"),
    ]


# --------------------------------------------------------------------------- pjsip.conf


def test_pjsip_sections_have_known_types(pjsip):
    known = {"global", "transport", "endpoint", "aor", "auth", "identify", "registration"}
    for section in pjsip.concrete():
        assert section.get("type") in known, f"[{section.name}] type={section.get('type')}"


def test_pjsip_transports_udp_and_tls(pjsip):
    transports = _by_type(pjsip, "transport")
    protocols = {t.get("protocol"): t for t in transports.values()}
    assert {"udp", "tls"} <= set(protocols)
    tls = protocols["tls"]
    assert tls.get("cert_file") and tls.get("priv_key_file")
    assert tls.get("bind", "").endswith(":5061")
    assert protocols["udp"].get("bind", "").endswith(":5060")


def test_pjsip_endpoint_references_exist(pjsip):
    endpoints = _by_type(pjsip, "endpoint")
    auths, aors, transports = (_by_type(pjsip, k) for k in ("auth", "aor", "transport"))
    assert {"trunk", "agent100"} <= set(endpoints)
    for name, ep in endpoints.items():
        for ref in filter(None, (ep.get("auth"), ep.get("outbound_auth"))):
            assert ref in auths, f"endpoint {name}: auth {ref} missing"
        for ref in filter(None, (ep.get("aors") or "").split(",")):
            assert ref.strip() in aors, f"endpoint {name}: aor {ref} missing"
        assert ep.get("transport") in transports, f"endpoint {name}: transport {ep.get('transport')} missing"
    for ident in _by_type(pjsip, "identify").values():
        assert ident.get("endpoint") in endpoints


def test_pjsip_media_and_nat_settings(pjsip):
    allowed_codecs = {"ulaw", "alaw", "slin16", "g722"}
    for name, ep in _by_type(pjsip, "endpoint").items():
        assert ep.get("direct_media") == "no", name  # audio must pass through the externalMedia bridge
        for key in ("rtp_symmetric", "force_rport", "rewrite_contact"):
            assert ep.get(key) == "yes", f"{name}: {key}"
        assert "all" in ep.getall("disallow"), name
        codecs = {c.strip() for v in ep.getall("allow") for c in v.split(",")}
        assert codecs and codecs <= allowed_codecs, f"{name}: {codecs}"
        assert {"ulaw", "alaw"} <= codecs, f"{name}: G.711 is what trunks and phones share"


def test_pjsip_trunk_identified_by_valid_ip(pjsip):
    idents = [i for i in _by_type(pjsip, "identify").values() if i.get("endpoint") == "trunk"]
    assert idents, "the trunk needs an identify section"
    matches = [m for i in idents for m in i.getall("match")]
    assert matches
    for m in matches:
        for item in m.split(","):
            ipaddress.ip_network(item.strip(), strict=False)  # raises on a typo


def test_pjsip_agent_auth_and_aor(pjsip):
    agent = _by_type(pjsip, "endpoint")["agent100"]
    auth = _by_type(pjsip, "auth")[agent.get("auth")]
    assert auth.get("auth_type") == "userpass"
    assert auth.get("username") == "agent100"
    password = auth.get("password") or ""
    assert len(password) >= 20 and re.search(r"[a-z]", password) and re.search(r"[A-Z]", password)
    assert re.search(r"\d", password) and password.lower() not in ("agent100", "password", "secret")
    aor = _by_type(pjsip, "aor")["agent100"]
    assert int(aor.get("max_contacts") or 0) >= 1


def test_every_endpoint_context_exists_in_dialplan(pjsip, plan):
    contexts = {p.context for p in plan}
    for name, ep in _by_type(pjsip, "endpoint").items():
        assert ep.get("context") in contexts, f"endpoint {name}: context {ep.get('context')}"


# --------------------------------------------------------------------------- extensions.conf


def test_trunk_calls_reach_the_stasis_app(pjsip, plan):
    app = AriSettings().app
    trunk_ctx = _by_type(pjsip, "endpoint")["trunk"].get("context")
    extens = {p.exten for p in plan if p.context == trunk_ctx}
    assert {"100", "s"} <= extens
    for exten in extens:
        assert reaches_app(plan, trunk_ctx, exten, "Stasis"), f"{trunk_ctx},{exten} never reaches Stasis"
    stasis = [p for p in plan if p.app == "Stasis"]
    assert stasis and all(p.args.split(",")[0] == app for p in stasis)
    # the app answers: no Answer() before Stasis on the way in
    assert not [p for p in plan if p.context in (trunk_ctx, stasis[0].context) and p.app == "Answer"]


def test_stasis_app_matches_ari_user_and_app_defaults(plan):
    ari = load("ari.conf")
    defaults = AriSettings()
    users = {s.name: s for s in ari.concrete() if s.get("type") == "user"}
    assert defaults.username in users
    user = users[defaults.username]
    assert user.get("read_only") == "no"
    assert user.get("password") == defaults.password
    assert ari.named("general")[0].get("enabled") == "yes"
    assert {p.args.split(",")[0] for p in plan if p.app == "Stasis"} == {defaults.app}


def test_overflow_and_transfer_contexts_match_app_defaults(plan):
    defaults = AriSettings()
    assert (defaults.overflow_context, defaults.overflow_extension) in {(p.context, p.exten) for p in plan}
    agents = [p for p in plan if p.context == defaults.transfer_context]
    assert {"s", "100"} <= {p.exten for p in agents}
    assert reaches_app(plan, defaults.transfer_context, "s", "Dial")
    dials = [p.args for p in agents if p.app == "Dial"]
    assert any(a.startswith("PJSIP/agent100,") for a in dials)
    assert all("b(kayako-agent-leg^s^1(${KAYAKO_CASE_ID}))" in a for a in dials)
    # the app's empty default (no agent) still leaves the dialplan a sane agent extension
    assert CompanySettings().agent_extension in ("", "100", "s")


def test_case_id_reaches_the_agent(plan):
    leg = [p for p in plan if p.context == "kayako-agent-leg"]
    assert any("PJSIP_HEADER(add,X-Kayako-Case-Id)=${ARG1}" in p.args for p in leg)
    case = [p for p in plan if p.context == "kayako-case-id"]
    assert any("PJSIP_HEADER(read,X-Kayako-Case-Id)" in p.args for p in case)
    assert any("FILTER(0-9," in p.args for p in case), "header value must be filtered before use"
    assert case[-1].app == "Return"


def test_dial_targets_and_jumps_exist(pjsip, plan):
    endpoints = set(_by_type(pjsip, "endpoint"))
    contexts = {p.context for p in plan}
    for p in plan:
        if p.app == "Dial":
            target = p.args.split(",")[0]
            assert target.startswith("PJSIP/"), target
            name = target[len("PJSIP/") :]
            name = name.split("@", 1)[1] if "@" in name else name
            assert name in endpoints, f"{p.context},{p.exten}: Dial to unknown endpoint {name}"
        for ctx, _ in _goto_targets(p):
            assert ctx in contexts, f"{p.context},{p.exten}: jump to missing context {ctx}"
        m = re.search(r"b\(([^^]+)\^", p.args) if p.app == "Dial" else None
        if m:
            assert m.group(1) in contexts


def test_overflow_mailbox_exists():
    globals_ = load("extensions.conf").named("globals")[0]
    mailbox, _, vm_context = (globals_.get("overflow_mailbox") or "").partition("@")
    vm = load("voicemail.conf")
    assert vm.named(vm_context), f"voicemail context {vm_context} missing"
    assert mailbox in {k for k, _ in vm.named(vm_context)[0].options}


def _asterisklint() -> list[str] | None:
    exe = Path(sys.executable).parent / "asterisklint"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("asterisklint")
    return [found] if found else None


def test_asterisklint_finds_no_errors(tmp_path):
    cmd = _asterisklint()
    if cmd is None:
        pytest.skip("asterisklint is not installed (pip install asterisklint)")
    ok = subprocess.run(
        [*cmd, "dialplan-check", str(CONFIG_DIR / "extensions.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "E_" not in ok.stdout + ok.stderr and "W_" not in ok.stdout + ok.stderr
    # the linter is live: the same file with a typo in an app name fails
    broken = tmp_path / "extensions.conf"
    broken.write_text(
        (CONFIG_DIR / "extensions.conf").read_text().replace("Stasis(kayako-voice)", "Stasys(kayako-voice)")
    )
    bad = subprocess.run([*cmd, "dialplan-check", str(broken)], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "E_APP_MISSING" in bad.stdout + bad.stderr


# --------------------------------------------------------------------------- http, rtp, modules


def test_http_binds_where_the_app_looks():
    general = load("http.conf").named("general")[0]
    url = urlsplit(AriSettings().url)
    assert general.get("enabled") == "yes"
    assert general.get("bindaddr") == url.hostname == "127.0.0.1"
    assert int(general.get("bindport") or 0) == url.port == 8088
    assert general.get("prefix") is None, "ARI must stay at /ari"
    assert general.get("tlsenable") is None  # TLS variant is documented, commented out


def test_rtp_range_fits_fifty_calls_and_misses_the_app_range():
    general = load("rtp.conf").named("general")[0]
    start, end = int(general.get("rtpstart") or 0), int(general.get("rtpend") or 0)
    ports = end - start + 1
    needed = DESIGN_CALLS * RTP_SESSIONS_PER_CALL * PORTS_PER_SESSION
    assert start % 2 == 0 and 1024 <= start < end <= 65535
    assert ports >= needed * 1.5, f"{ports} ports for {needed} needed plus margin"
    media = MediaSettings()
    assert end < media.rtp_port_min or start > media.rtp_port_max, "overlaps the app's RTP range"


def test_modules_required_for_the_app():
    conf = load("modules.conf").named("modules")[0]
    required = set(conf.getall("require"))
    noload = set(conf.getall("noload"))
    assert conf.get("autoload") == "yes"
    must = {
        "chan_pjsip.so",
        "res_pjsip.so",
        "res_pjsip_session.so",
        "res_pjsip_endpoint_identifier_ip.so",
        "res_pjsip_authenticator_digest.so",
        "res_pjsip_nat.so",
        "res_pjsip_header_funcs.so",
        "app_stasis.so",
        "res_stasis.so",
        "res_ari.so",
        "res_ari_channels.so",
        "res_ari_bridges.so",
        "res_ari_events.so",
        "res_http_websocket.so",
        "chan_rtp.so",
        "res_rtp_asterisk.so",
        "bridge_simple.so",
        "bridge_softmix.so",
        "codec_ulaw.so",
        "codec_alaw.so",
        "codec_resample.so",
        "pbx_config.so",
    }
    assert must <= required, f"missing: {sorted(must - required)}"
    assert not required & noload
    assert all(m.endswith(".so") for m in required | noload)


def test_admin_edit_markers_present():
    for name in ("pjsip.conf", "extensions.conf", "ari.conf", "rtp.conf"):
        assert ">>> EDIT" in (CONFIG_DIR / name).read_text(), name
