"""The inspector's events and state, out over MQTT (``[mqtt] enabled``) and webhooks (``[[webhook]]``).

Per watcher, after every pass: whether it was reachable, when the last pass succeeded, how many clips
wait on it (deferred to the next pass, or refused for room), the last error, and a problem flag once it
has been unreachable for ``unreachable_alert_s`` (webhooks: ``watcher_problem`` / ``watcher_recovered``).
Per clip: ``clip_stored`` when it is in the library (verified), ``clip_analyzed`` with the people count,
the duration, its thumbnail and a link to its report page (``report_url``, else a file:// link).

Topics, under ``<topic_prefix>/inspector/``: ``availability`` (online/offline, last will), and per
watcher ``<watcher>/state`` (JSON, retained), ``<watcher>/clip`` (JSON events) and ``<watcher>/thumbnail``
(the last analyzed clip's JPEG, retained: a Home Assistant image entity). Discovery announces one
"inspector" device with each watcher's entities.

Threads: ``watcher_pass`` is called by each watcher's pull thread, ``clips_analyzed`` by the analysis
thread or the command; they only build messages and queue them (bounded, never blocking); one lock
guards the per-watcher state.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspector.catalog import Catalog
from inspector.pullstats import PullStats
from inspector.report.model import page_name
from shared.manifest import InvalidManifest, Manifest, read_manifest, utc_iso
from shared.mqtt_message import MqttMessage
from shared.mqtt_settings import MqttSettings
from shared.outlets import Outlets
from shared.secrets import read_secret
from shared.webhooks import WebhookSender, WebhookSettings

if TYPE_CHECKING:
    from inspector.analysis.pending import AnalysisSummary
    from inspector.config import InspectorConfig
    from shared.mqtt_link import MqttLink

logger = logging.getLogger(__name__)

MODEL = "motion-watcher"
MAX_THUMBNAIL_BYTES = 512 * 1024


@dataclass
class _WatcherState:
    reachable: bool | None = None
    last_ok_at: str | None = None  # wall clock (display)
    last_ok_mono: float = 0.0
    last_error: str | None = None
    waiting: int = 0
    stored_total: int = 0
    problem: bool = False


class InspectorEvents:
    def __init__(self, link: MqttLink | None, *, watchers: Sequence[str], library: Path, topic_prefix: str,
                 hooks: Sequence[WebhookSender] = (), unreachable_alert_s: float = 3600.0, report_url: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = Outlets(link, hooks)
        self.library = library
        self.base = f"{topic_prefix}/inspector"
        self.alert_s = unreachable_alert_s
        self.report_url = report_url
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._state = {w: _WatcherState(last_ok_mono=now) for w in watchers}

    @classmethod
    def create(cls, mqtt: MqttSettings, hooks: Sequence[WebhookSettings], *, watchers: Sequence[str],
               library: Path, config_path: str, unreachable_alert_s: float, report_url: str) -> InspectorEvents:
        link = None
        if mqtt.enabled:
            from shared.mqtt_link import MqttLink  # paho, only when MQTT is on

            password = None
            if mqtt.password_file is not None:
                password = read_secret(Path(mqtt.password_file), config=config_path, key="mqtt.password_file")
            messages = discovery(mqtt.discovery_prefix, mqtt.topic_prefix, watchers) if mqtt.discovery else []
            link = MqttLink(mqtt, client_id=f"{MODEL}-inspector", password=password,
                            availability_topic=f"{mqtt.topic_prefix}/inspector/availability",
                            announce=lambda: messages)
        senders = [WebhookSender.create(h, config_path=config_path, index=i) for i, h in enumerate(hooks)]
        return cls(link, watchers=watchers, library=library, topic_prefix=mqtt.topic_prefix, hooks=senders,
                   unreachable_alert_s=unreachable_alert_s, report_url=report_url)

    def start(self) -> None:
        self.out.start()

    def stop(self) -> None:
        self.out.stop()

    # --- pull threads ----------------------------------------------------------------------------

    def watcher_pass(self, watcher: str, stats: PullStats | None, error: str | None,
                     catalog: Catalog | None = None) -> None:
        """One pass over ``watcher`` ended: with ``stats`` (it succeeded) or ``error``."""
        now = self._clock()
        with self._lock:
            st = self._state.setdefault(watcher, _WatcherState(last_ok_mono=now))
            was_problem = st.problem
            if error is None:
                st.reachable, st.last_error = True, None
                st.last_ok_at, st.last_ok_mono = utc_iso(datetime.now(UTC)), now
                if stats is not None:
                    st.waiting = stats.deferred + len(stats.refused)
                    st.stored_total += len(stats.stored)
            else:
                st.reachable, st.last_error = False, error
            down_s = now - st.last_ok_mono
            st.problem = error is not None and down_s >= self.alert_s
            body = {"watcher": watcher, "reachable": st.reachable, "last_pull_at": st.last_ok_at,
                    "waiting": st.waiting, "last_error": st.last_error, "problem": st.problem,
                    "stored_this_run": st.stored_total,
                    "unreachable_for_s": round(down_s) if error is not None else 0}
            problem = st.problem
        self._mqtt(MqttMessage(f"{self.base}/{watcher}/state", _json(body), retain=True))
        if problem != was_problem:
            kind = "watcher_problem" if problem else "watcher_recovered"
            self._hook(kind, body)
        for clip_id in stats.stored if stats is not None else ():
            self._clip_stored(watcher, clip_id, catalog)

    def _clip_stored(self, watcher: str, clip_id: str, catalog: Catalog | None) -> None:
        body: dict[str, Any] = {"event_type": "clip_stored", "watcher": watcher, "id": clip_id}
        row = catalog.get(watcher, clip_id) if catalog is not None else None
        if row is not None:
            body |= {"camera": row.camera, "size": row.size, "sha256": row.sha256}
            m = _stored_manifest(row.local_path)
            if m is not None:
                body |= {"started_at": m.started_at, "ended_at": m.ended_at, "duration_s": m.duration_s,
                         "peak_motion": m.peak_motion}
        self._mqtt(MqttMessage(f"{self.base}/{watcher}/clip", _json(body)))
        self._hook("clip_stored", body)

    # --- after an analysis batch -----------------------------------------------------------------

    def clips_analyzed(self, clip_ids: Sequence[str], catalog: Catalog) -> None:
        """Each clip of ``clip_ids`` (analyzed just now): people, duration, thumbnail, report link."""
        wanted = set(clip_ids)
        if not wanted:
            return
        for row in catalog.analyzed():
            if row.clip_id not in wanted:
                continue
            body: dict[str, Any] = {"event_type": "clip_analyzed", "watcher": row.watcher, "id": row.clip_id,
                                    "camera": row.camera, "started_at": row.started_at,
                                    "duration_s": row.duration_s, "people": row.people_peak,
                                    "motion_s": row.motion_s, "report": self._link(page_name(row.watcher, row.clip_id))}
            thumb = self._thumbnail(row.local_path, row.analysis_path)
            if thumb is not None:
                body["thumbnail"] = self._link(f"../{thumb.relative_to(self.library).as_posix()}") \
                    if thumb.is_relative_to(self.library) else None
            self._mqtt(MqttMessage(f"{self.base}/{row.watcher}/clip", _json(body)))
            if thumb is not None:
                try:
                    data = thumb.read_bytes()[:MAX_THUMBNAIL_BYTES + 1]
                except OSError:
                    data = b""
                if data and len(data) <= MAX_THUMBNAIL_BYTES:
                    self._mqtt(MqttMessage(f"{self.base}/{row.watcher}/thumbnail", data, retain=True))
            self._hook("clip_analyzed", body)

    def _thumbnail(self, local_path: str | None, analysis_path: str | None) -> Path | None:
        if not local_path or not analysis_path:
            return None
        from inspector.analysis.result import BadAnalysis, read_analysis

        try:
            name = read_analysis(Path(analysis_path)).stills.thumb
        except BadAnalysis:
            return None
        return Path(local_path).parent / name if name else None

    def _link(self, page: str) -> str:
        """A report page (relative to the report folder) as a link someone can open."""
        if self.report_url:
            base = self.report_url.rstrip("/")
            return f"{base}/{page}" if not page.startswith("../") else f"{base.rsplit('/', 1)[0]}/{page[3:]}"
        return (self.library / "report" / page).resolve().as_uri()

    # --- out -------------------------------------------------------------------------------------

    def _mqtt(self, m: MqttMessage) -> None:
        self.out.mqtt(m)

    def _hook(self, kind: str, body: dict[str, Any]) -> None:
        self.out.hook(kind, body)


@contextlib.contextmanager
def events_running(cfg: InspectorConfig) -> Iterator[InspectorEvents | None]:
    """The events of ``cfg`` started for the block, stopped after it (what is queued goes out)."""
    events = events_for(cfg)
    if events is not None:
        events.start()
    try:
        yield events
    finally:
        if events is not None:
            events.stop()


def events_for(cfg: InspectorConfig) -> InspectorEvents | None:
    """The events of ``cfg`` (MQTT and/or webhooks), not started; None when neither is configured."""
    if not (cfg.mqtt.enabled or cfg.webhook):
        return None
    return InspectorEvents.create(cfg.mqtt, cfg.webhook, watchers=[w.name for w in cfg.watchers], library=cfg.library,
                                  config_path=cfg.path, unreachable_alert_s=cfg.settings.unreachable_alert_s,
                                  report_url=cfg.settings.report_url)


def analyzed_batch(events: InspectorEvents, library: Path) -> Callable[[AnalysisSummary], None]:
    """An analysis batch's callback (on the analysis thread, with a catalog connection of its own)."""
    def publish(summary: AnalysisSummary) -> None:
        if not summary.analyzed:
            return
        catalog = Catalog(library / "catalog.sqlite3")
        try:
            events.clips_analyzed(summary.analyzed, catalog)
        finally:
            catalog.close()

    return publish


def discovery(discovery_prefix: str, topic_prefix: str, watchers: Sequence[str]) -> list[MqttMessage]:
    """Home Assistant discovery: one "inspector" device, each watcher's entities."""
    base = f"{topic_prefix}/inspector"
    device = {"identifiers": [f"{MODEL.replace('-', '_')}_inspector"], "name": "motion-watcher inspector",
              "model": MODEL, "manufacturer": MODEL}
    out = []
    for w in watchers:
        node = w.replace("-", "_")
        state = f"{base}/{w}/state"
        entities: dict[str, tuple[str, dict[str, Any]]] = {
            "reachable": ("binary_sensor", {"name": f"{w} reachable", "device_class": "connectivity",
                                            "state_topic": state,
                                            "value_template": "{{ 'ON' if value_json.reachable else 'OFF' }}"}),
            "problem": ("binary_sensor", {"name": f"{w} problem", "device_class": "problem", "state_topic": state,
                                          "value_template": "{{ 'ON' if value_json.problem else 'OFF' }}"}),
            "last_pull": ("sensor", {"name": f"{w} last pull", "device_class": "timestamp", "state_topic": state,
                                     "value_template": "{{ value_json.last_pull_at }}"}),
            "waiting": ("sensor", {"name": f"{w} clips waiting", "state_topic": state,
                                   "value_template": "{{ value_json.waiting }}"}),
            "last_error": ("sensor", {"name": f"{w} last error", "state_topic": state,
                                      "value_template": "{{ value_json.last_error or 'none' }}",
                                      "entity_category": "diagnostic"}),
            "clip": ("event", {"name": f"{w} clip", "state_topic": f"{base}/{w}/clip",
                               "event_types": ["clip_stored", "clip_analyzed"]}),
            "thumbnail": ("image", {"name": f"{w} last clip", "image_topic": f"{base}/{w}/thumbnail",
                                    "content_type": "image/jpeg"}),
        }
        for obj, (component, own) in entities.items():
            config = {**own, "unique_id": f"{MODEL.replace('-', '_')}_inspector_{node}_{obj}",
                      "object_id": f"inspector_{node}_{obj}", "availability_topic": f"{base}/availability",
                      "device": device}
            out.append(MqttMessage(f"{discovery_prefix}/{component}/inspector/{node}_{obj}/config",
                                   json.dumps(config, sort_keys=True).encode(), retain=True))
    return out


def _stored_manifest(local_path: str | None) -> Manifest | None:
    """The manifest stored beside a clip in the library (verified when it was stored), if readable."""
    if not local_path:
        return None
    try:
        return read_manifest(Path(local_path).with_suffix(".json"))
    except (OSError, InvalidManifest):
        return None


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
