"""Which encoder, and its cost: platform detection from device nodes, the check with a fake measurement."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from watcher.doctor.encoding import check_encoder
from watcher.doctor.probes import ChildOutput
from watcher.doctor.result import Status
from watcher.doctor.v4l2 import Platform, VideoNode, detect_platform, querycap

PI4_NODES = {"video10": ("bcm2835-codec", "bcm2835-codec-decode"), "video11": ("bcm2835-codec", "bcm2835-codec-encode"),
             "video12": ("bcm2835-codec", "bcm2835-codec-isp"), "video0": ("unicam", "unicam")}
PI5_NODES = {"video0": ("rp1-cfe", "rp1-cfe"), "video20": ("pispbe", "pispbe"), "video21": ("pispbe", "pispbe")}


def fake_dev(tmp_path: Path, nodes: dict[str, tuple[str, str]], model: str | None) -> Platform:
    dev = tmp_path / "dev"
    dev.mkdir(parents=True)
    for name in nodes:
        (dev / name).touch()
    model_path = tmp_path / "model"
    if model:
        model_path.write_bytes(model.encode() + b"\0")
    return detect_platform(dev, tmp_path / "sys", model_path, query=lambda p: nodes[p.name])


class Measure:
    def __init__(self, cpu_ms: float = 4.0, wall_ms: float = 5.0, error: str | None = None) -> None:
        self.cpu_ms, self.wall_ms, self.error = cpu_ms, wall_ms, error
        self.args: list[str] = []

    def __call__(self, args: Sequence[str], timeout_s: float) -> ChildOutput:
        self.args = list(args)
        if self.error:
            return ChildOutput([{"event": "error", "error_type": "EncoderError", "error": self.error}])
        at = args.index("--size") if "--size" in args else -1
        w, h, fps = (1280, 720, 30.0) if at < 0 else (int(args[at + 1]), int(args[at + 2]), float(args[at + 3]))
        return ChildOutput([{"event": "result", "width": w, "height": h, "fps": fps, "cpu_ms": self.cpu_ms,
                             "wall_ms": self.wall_ms}])


def check(spec: str, platform: Platform, measure: Measure, codec: str = "libx264", **kw):
    return check_encoder(spec, 1280, 720, 30.0, codec=codec, preset="veryfast", bitrate=2_000_000, gop_s=2.0,
                         platform=platform, measure=measure, ncpu=4, access=lambda p, m: True, **kw)


def test_platform_detection(tmp_path: Path) -> None:
    pi4 = fake_dev(tmp_path / "4", PI4_NODES, "Raspberry Pi 4 Model B Rev 1.4")
    assert pi4.hw_encoder is not None and pi4.hw_encoder.path.endswith("/video11") and not pi4.pisp
    assert [n.path.rsplit("/", 1)[1] for n in pi4.nodes] == ["video0", "video10", "video11", "video12"]
    pi5 = fake_dev(tmp_path / "5", PI5_NODES, None)
    assert pi5.hw_encoder is None and pi5.pisp
    pc = fake_dev(tmp_path / "pc", {}, None)
    assert pc.hw_encoder is None and not pc.pisp and pc.model is None


def test_sysfs_name_when_the_node_cannot_be_queried(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "video11").touch()
    (tmp_path / "sys" / "video11").mkdir(parents=True)
    (tmp_path / "sys" / "video11" / "name").write_text("bcm2835-codec-encode\n")
    p = detect_platform(tmp_path / "dev", tmp_path / "sys", tmp_path / "none", query=lambda p: (None, None))
    assert p.hw_encoder == VideoNode(str(tmp_path / "dev" / "video11"), None, "bcm2835-codec-encode")


def test_querycap_on_something_that_is_not_a_video_device(tmp_path: Path) -> None:
    (tmp_path / "video0").write_bytes(b"")
    assert querycap(tmp_path / "video0") == (None, None)
    assert querycap(tmp_path / "missing") == (None, None)


def test_pi4_picamera2_uses_the_hardware_encoder(tmp_path: Path) -> None:
    m = Measure()
    r = check("picamera2", fake_dev(tmp_path, PI4_NODES, "Raspberry Pi 4 Model B Rev 1.4"), m)
    assert r.status is Status.OK and r.message.startswith("hardware:") and "bcm2835-codec-encode" in r.message
    assert m.args == [], "nothing to measure on the hardware path"


def test_pi4_encoder_the_user_cannot_open(tmp_path: Path) -> None:
    r = check_encoder("picamera2", 1280, 720, 30.0, codec="libx264", preset="veryfast", bitrate=1, gop_s=2.0,
                      platform=fake_dev(tmp_path, PI4_NODES, None), measure=Measure(), access=lambda p, m: False)
    assert r.status is Status.FAIL and "group video" in r.fix


def test_pi5_picamera2_is_software_and_measured(tmp_path: Path) -> None:
    m = Measure(cpu_ms=12.0, wall_ms=6.0)
    r = check("picamera2", fake_dev(tmp_path, PI5_NODES, "Raspberry Pi 5 Model B Rev 1.0"), m)
    assert m.args[0] == "picamera2-libav" and m.args[m.args.index("--size") + 1: m.args.index("--size") + 4] == [
        "1280", "720", "30.0"]
    assert r.status is Status.OK and r.message.startswith("software: no hardware H.264 encoder (Pi 5)")
    assert "12.0 ms CPU per frame at 1280x720 (6.0 ms wall), 36% of one core at 30 fps" in r.message
    r = check("picamera2", fake_dev(tmp_path / "b", PI5_NODES, None), Measure(cpu_ms=80.0))
    assert r.status is Status.WARN and "more than half of the 4 cores" in r.message


def test_picamera2_without_any_encoder(tmp_path: Path) -> None:
    r = check("picamera2", fake_dev(tmp_path, {}, None), Measure())
    assert r.status is Status.FAIL and "/dev/video11" in r.message


def test_the_watchers_own_encoder_is_measured_at_the_sources_size(tmp_path: Path) -> None:
    m = Measure(cpu_ms=9.0, wall_ms=10.0)
    r = check("synthetic", fake_dev(tmp_path, {}, None), m)
    assert m.args[:1] == ["watcher"] and m.args[m.args.index("--source") + 1] == "synthetic"
    assert r.status is Status.OK and "libx264 (veryfast)" in r.message
    m = Measure(cpu_ms=30.0)
    r = check("device:0", fake_dev(tmp_path / "b", PI4_NODES, None), m)
    assert "--size" in m.args and r.status is Status.WARN and "(a hardware encoder is at" in r.message


def test_v4l2m2m_codec_needs_the_hardware(tmp_path: Path) -> None:
    r = check("synthetic", fake_dev(tmp_path, {}, None), Measure(), codec="h264_v4l2m2m")
    assert r.status is Status.FAIL and 'codec = "libx264"' in r.fix


def test_an_encoder_that_fails(tmp_path: Path) -> None:
    r = check("synthetic", fake_dev(tmp_path, {}, None), Measure(error="encoder 'x' is not available"))
    assert r.status is Status.FAIL and "is not available" in r.message
    died = check_encoder("synthetic", 1, 1, 1.0, codec="libx264", preset="p", bitrate=1, gop_s=1.0,
                         platform=Platform(None, []), measure=lambda a, t: ChildOutput([], -11))
    assert died.status is Status.FAIL and "killed by SIGSEGV" in died.message
