"""The watcher's configuration through real TOML files: every error is "file: key: problem" (exit 78)."""

from __future__ import annotations

import math
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import ConfigError
from tests.proc import ROOT
from watcher.config import WatcherConfig, load_config, parse_config, with_overrides


def load(tmp_path: Path, text: str) -> WatcherConfig:
    path = tmp_path / "watcher.toml"
    path.write_text(text)
    return load_config(str(path))


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, text)
    assert e.value.exit_code == 78
    return str(e.value)


def test_a_valid_file_gives_typed_sections_and_its_data_dir_beside_it(tmp_path: Path) -> None:
    cfg = load(tmp_path, '[watcher]\ncamera = "gate"\ndata_dir = "d"\n[source]\nfps = 25\n[detector]\n'
                         'mask = [[[0, 0], [0.5, 0], [0.5, 0.5]]]\n[retention]\non_full = "stop_recording"\n')
    assert cfg.path == str(tmp_path / "watcher.toml")
    assert (cfg.watcher.camera, cfg.watcher.data_dir) == ("gate", str(tmp_path / "d"))
    assert cfg.source.fps == 25.0 and isinstance(cfg.source.fps, float)
    assert cfg.detector.mask == (((0.0, 0.0), (0.5, 0.0), (0.5, 0.5)),)
    assert cfg.retention.on_full == "stop_recording"
    assert cfg.trigger.pre_roll_s == 3.0  # defaults for what the file leaves out
    assert load_config(None).watcher.data_dir == "watcher-data"


TOPIC_RULE = ("must be levels of A-Z, a-z, 0-9, '_', '.', '-' separated by '/' (no empty level, no '+' or '#' "
              "wildcard, no '$')")


@pytest.mark.parametrize("text,error", [
    ('[source]\nwidth = "wide"\n', "source.width: expected an integer, got 'wide'"),
    ("[source]\nrealtime = 1\n", "source.realtime: expected true or false, got 1"),
    ("[source]\nfps = nan\n", "source.fps: expected a finite number, got nan"),
    ("[trigger]\npre_roll_s = 99\n", "trigger.pre_roll_s: must be <= 60.0, got 99"),
    ("[encoder]\nbitrate = 5\n", "encoder.bitrate: must be >= 100000, got 5"),
    ("[trigger]\npre_roll = 1.0\n",
     "trigger.pre_roll: unknown key (known keys: max_clip_s, min_motion_frames, post_roll_s, pre_roll_s)"),
    ("[triggers]\npre_roll_s = 1.0\n",
     ("triggers: unknown key (known keys: detector, encoder, live, mqtt, retention, source, trigger, watcher, "
      "webhook)")),
    ("watcher = 3\n", "watcher: expected a table, got 3"),
    ('[retention]\non_full = "panic"\n',
     "retention.on_full: must be one of 'delete_oldest' or 'stop_recording', got 'panic'"),
    ('[watcher]\ncamera = "Front Door"\n',
     "watcher.camera: must be 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit"),
    ("[detector]\nmask = [[[0, 0], [1, 0], [1, 1, 1]]]\n", "detector.mask[0][2]: must have at most 2 items, got 3"),
    ('[detector]\nmask = [[[0, 0], [1, 0], [1, "y"]]]\n', "detector.mask[0][2][1]: expected a number, got 'y'"),
    ("[detector]\nmask = [[[0, 0], [2, 0], [1, 1]]]\n", "detector.mask: polygon 0: point (2.0, 0.0) is outside 0..1"),
    ("[detector]\nmask = [[[0, 0], [1, 1]]]\n", "detector.mask: polygon 0 needs at least 3 points"),
    ('[mqtt]\npassword_file = "pw"\n', "mqtt.username: is required with password_file"),
    ('[mqtt]\nca_file = "ca.crt"\n', "mqtt.ca_file: needs tls = true"),
    ('[mqtt]\ntopic_prefix = "home/+/cams"\n', f"mqtt.topic_prefix: {TOPIC_RULE}, got 'home/+/cams'"),
    ('[mqtt]\ndiscovery_prefix = "$SYS"\n', f"mqtt.discovery_prefix: {TOPIC_RULE}, got '$SYS'"),
    ("[mqtt]\nport = 0\n", "mqtt.port: must be >= 1, got 0"),
    ("[live]\nenabled = true\n", ("live.token_file: is required with enabled = true (a file holding the token, "
                                  "mode 600)")),
])
def test_a_bad_file_is_refused_naming_the_file_and_the_key(tmp_path: Path, text: str, error: str) -> None:
    assert refusal(tmp_path, text) == f"{tmp_path / 'watcher.toml'}: {error}"


def test_the_watcher_exits_78_with_the_file_and_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[trigger]\npre_roll_s = 99\n")
    r = subprocess.run([sys.executable, "-m", "watcher", "--config", str(bad)], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 78
    assert f"{bad}: trigger.pre_roll_s: must be <= 60.0, got 99" in r.stderr


def test_mqtt_files_are_beside_the_config_and_a_readable_password_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("secret\n")
    (tmp_path / "pw").chmod(0o600)
    (tmp_path / "ca.crt").write_text("a CA\n")
    cfg = load(tmp_path, '[mqtt]\nenabled = true\nusername = "pi"\npassword_file = "pw"\ntls = true\n'
                         'ca_file = "ca.crt"\n')
    assert (cfg.mqtt.password_file, cfg.mqtt.ca_file) == (str(tmp_path / "pw"), str(tmp_path / "ca.crt"))
    assert "secret" not in cfg.model_dump_json()  # the config holds the file's name, never the secret
    (tmp_path / "pw").chmod(0o644)
    text = '[mqtt]\nenabled = true\nusername = "pi"\npassword_file = "pw"\n'
    assert refusal(tmp_path, text) == (f"{tmp_path / 'watcher.toml'}: mqtt.password_file: {tmp_path / 'pw'}: "
                                       f"readable or writable by group or others (mode 0644); "
                                       f"run: chmod 600 {tmp_path / 'pw'}")
    assert refusal(tmp_path, '[mqtt]\nenabled = true\ntls = true\nca_file = "nope.crt"\n') == \
        f"{tmp_path / 'watcher.toml'}: mqtt.ca_file: {tmp_path / 'nope.crt'}: no such file"


def test_command_line_overrides_are_validated_copies(tmp_path: Path) -> None:
    cfg = load(tmp_path, '[source]\nfps = 12\n[watcher]\ncamera = "gate"\n')
    over = with_overrides(cfg, source="file:x.mp4", realtime=True, data_dir="/srv/d")
    assert (over.source.spec, over.source.realtime, over.source.fps) == ("file:x.mp4", True, 12.0)
    assert (over.watcher.data_dir, over.watcher.camera, over.path) == ("/srv/d", "gate", cfg.path)
    assert with_overrides(cfg) == cfg


def _model_of(annotation: Any) -> Any:
    """A table's model, also for an array of tables ([[webhook]]: a tuple of models)."""
    while not hasattr(annotation, "model_fields"):
        annotation = typing.get_args(annotation)[0]
    return annotation


SECTIONS = sorted(WatcherConfig.model_fields.keys() - {"path"})
KEYS = sorted({k for name in SECTIONS for k in _model_of(WatcherConfig.model_fields[name].annotation).model_fields}
              | {"zz"})
# what a TOML file can hold: integers of any size, floats with nan and inf, booleans, strings, arrays, tables
SCALARS = st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=40),
                    st.sampled_from([0, 1, -1, 0.5, 2.0, 1e30, math.inf, math.nan, "", "synthetic", "gate"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                              max_size=3),
                      max_leaves=12)
TABLES = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.dictionaries(st.sampled_from([*SECTIONS, "zz"]), TABLES | VALUES, max_size=4))
def test_any_toml_values_give_a_config_or_a_config_error(data: dict[str, Any]) -> None:
    try:
        cfg = parse_config(data, "/etc/watcher.toml")
    except ConfigError as e:
        assert str(e).startswith("/etc/watcher.toml: ") and e.key and e.problem
    else:
        assert isinstance(cfg, WatcherConfig)
