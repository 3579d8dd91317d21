"""The inspector's configuration through real TOML files: every error is "file: key: problem"."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.analysis.limits import AnalysisLimits
from inspector.config import (
    CleanupSettings,
    InspectorConfig,
    InspectorSettings,
    WatcherEntry,
    load_config,
    parse_config,
)
from shared.errors import ConfigError

PI1 = ('[[watcher]]\nname = "pi1"\nhost = "pi1.lan"\nuser = "inspector"\nidentity_file = "key"\n'
       'known_hosts = "kh"\nremote_dir = "/data/recorded_clips"\n')
TOP_KEYS = ("analysis, cleanup, clips_in_flight, library, max_backoff_s, max_clip_mb, min_transfer_kbytes_s, mqtt, "
            "poll_interval_s, report_url, reserve_free_mb, transfer_grace_s, unreachable_alert_s, watcher, webhook")
ENTRY_KEYS = ("after_transfer, connect_timeout_s, host, identity_file, io_timeout_s, known_hosts, name, port, "
              "remote_dir, transport, user")
LOCAL = '[[watcher]]\nname = "{name}"\ntransport = "local"\nremote_dir = "/srv/{name}"\n'


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "key").write_text("k")
    (tmp_path / "kh").write_text("h")
    path = tmp_path / "inspector.toml"
    path.write_text(text)
    return path


def refusal(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert e.value.exit_code == 78
    prefix = f"{path}: "
    assert str(e.value).startswith(prefix)
    return str(e.value).removeprefix(prefix)


def test_a_valid_file_resolves_its_paths_beside_it(tmp_path: Path) -> None:
    path = write(tmp_path, 'library = "lib"\npoll_interval_s = 5\n' + PI1 + LOCAL.format(name="pi2") +
                 "[cleanup]\nkeep_days = 3\n[analysis]\nmax_frames = 1000\n")
    cfg = load_config(str(path))
    assert cfg.library == tmp_path / "lib" and cfg.settings.poll_interval_s == 5.0 and cfg.path == str(path)
    pi1, pi2 = cfg.watchers
    assert (pi1.identity_file, pi1.known_hosts, pi1.port) == (str(tmp_path / "key"), str(tmp_path / "kh"), 22)
    assert (pi2.transport, pi2.host, pi2.after_transfer) == ("local", "", "archive")
    assert cfg.cleanup.keep_days == 3.0 and cfg.analysis.max_frames == 1000


@pytest.mark.parametrize("text,error", [
    ('library = "lib"\n' + PI1 + 'port = "22"\n', "watcher[0].port: expected an integer, got '22'"),
    ('library = "lib"\n' + PI1 + "port = 0\n", "watcher[0].port: must be >= 1, got 0"),
    ('library = "lib"\nmax_clip_mb = inf\n' + PI1, "max_clip_mb: expected a finite number, got inf"),
    ('library = "lib"\n' + PI1 + "[analysis]\nmax_pixels = 10\n", "analysis.max_pixels: must be >= 256, got 10"),
    ('librar = "lib"\n' + PI1, f"librar: unknown key (known keys: {TOP_KEYS})"),
    ('library = "lib"\n' + PI1 + "[clean]\nkeep_days = 1\n", f"clean: unknown key (known keys: {TOP_KEYS})"),
    ('library = "lib"\n' + PI1 + "[cleanup]\nkeep = 1\n",
     "cleanup.keep: unknown key (known keys: keep_days, max_usage_gb, quarantine_days, stale_part_hours)"),
    ('library = "lib"\n' + PI1 + "hots = 1\n", f"watcher[0].hots: unknown key (known keys: {ENTRY_KEYS})"),
    ('library = "lib"\n' + PI1 + 'after_transfer = "keep"\n',
     "watcher[0].after_transfer: must be one of 'archive' or 'delete', got 'keep'"),
    ('library = "lib"\n' + PI1.replace('"pi1"', '"Pi 1"'),
     "watcher[0].name: must be 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit"),
    ('library = "lib"\n' + PI1.replace('"/data/', '"data/'),
     "watcher[0].remote_dir: must be an absolute path on the watcher"),
    ('library = "lib"\n' + PI1 + '[[watcher]]\nname = "pi2"\nremote_dir = "/d"\n', "watcher[1].host: is required"),
    ('library = "lib"\n' + PI1 + '[[watcher]]\nname = "pi2"\ntransport = "local"\n',
     "watcher[1].remote_dir: is required"),
    ('library = "lib"\n' + PI1 + LOCAL.format(name="pi1"), "watcher[1].name: duplicate watcher name 'pi1'"),
    ('library = "lib"\n' + PI1.replace('"kh"', '"nowhere/kh"'),
     "watcher[0].known_hosts: file not found: {dir}/nowhere/kh"),
    ('library = "lib\\u0000"\n' + PI1, "library: not a usable path: embedded null byte"),
    (PI1, "library: is required (the local directory for clips and the catalog)"),
    ('library = "lib"\n', "watcher: at least one [[watcher]] table is required"),
    ('library = "lib"\n[[webhook]]\nurl = "ftp://nas/hook"\n' + PI1,
     "webhook[0].url: must be an http:// or https:// URL with a host"),
    ('library = "lib"\n[[webhook]]\nurl = "http://nas/hook"\nattempts = 0\n' + PI1,
     "webhook[0].attempts: must be >= 1, got 0"),
    ('library = "lib"\n[mqtt]\nenabled = true\nusername = "i"\npassword_file = "pw"\n' + PI1,
     "mqtt.password_file: {dir}/pw: no such file"),
    ('library = "lib"\n[[webhook]]\nurl = "http://nas/hook"\nsecret_file = "s"\n' + PI1,
     "webhook[0].secret_file: {dir}/s: no such file"),
])
def test_a_bad_file_is_refused_naming_the_file_and_the_key(tmp_path: Path, text: str, error: str) -> None:
    assert refusal(tmp_path, text) == error.format(dir=tmp_path)


def test_settings_defaults_are_valid_and_described() -> None:
    for model in (InspectorSettings, CleanupSettings, AnalysisLimits):  # a [[watcher]] has required keys
        defaults = model()
        assert model.model_validate(defaults.model_dump()) == defaults
    for model in (CleanupSettings, AnalysisLimits):
        assert all(info.description for info in model.model_fields.values()), model


TOP = sorted(InspectorSettings.model_fields)
ENTRY = sorted(WatcherEntry.model_fields)
SCALARS = st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=20),
                    st.sampled_from([0, 1, 22, 0.5, 1e30, math.inf, math.nan, "", "lib", "pi1", "/d", "local", "key"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                              max_size=3),
                      max_leaves=10)
ENTRIES = st.dictionaries(st.sampled_from([*ENTRY, "zz"]), VALUES, max_size=6)
TABLE = st.dictionaries(st.sampled_from(sorted(CleanupSettings.model_fields) + sorted(AnalysisLimits.model_fields)),
                        VALUES, max_size=3)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.fixed_dictionaries({}, optional={
    **dict.fromkeys(TOP, VALUES), "watcher": st.lists(ENTRIES, max_size=3) | VALUES,
    "cleanup": TABLE | VALUES, "analysis": TABLE | VALUES, "zz": VALUES}))
def test_any_toml_values_give_a_config_or_a_config_error(data: dict[str, Any]) -> None:
    try:
        cfg = parse_config(data, "/nonexistent/inspector.toml")
    except ConfigError as e:
        assert str(e).startswith("/nonexistent/inspector.toml: ") and e.key and e.problem
    else:
        assert isinstance(cfg, InspectorConfig)
