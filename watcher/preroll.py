"""PreRollBuffer: the last few seconds of *encoded* packets, always starting at a keyframe.

Memory is bitrate x (pre-roll + one GOP), never raw frames. Only the pipeline thread uses it.
"""

from __future__ import annotations

from collections import deque

from watcher.frames import EncodedPacket


class PreRollBuffer:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._packets: deque[EncodedPacket] = deque()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._packets)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def append(self, packet: EncodedPacket) -> None:
        if not self._packets and not packet.keyframe:
            return  # a buffer must start at a keyframe; nothing before one is decodable
        self._packets.append(packet)
        self._bytes += packet.size
        self._trim(packet.t)

    def _trim(self, now: float) -> None:
        """Drop whole GOPs from the front while what remains still covers ``seconds``."""
        cutoff = now - self.seconds
        while True:
            second_key = next((i for i, p in enumerate(self._packets) if i > 0 and p.keyframe), None)
            if second_key is None or self._packets[second_key].t > cutoff:
                return
            for _ in range(second_key):
                self._bytes -= self._packets.popleft().size

    def snapshot(self, start_t: float, *, after: float | None = None) -> list[EncodedPacket]:
        """Packets for a new clip that should show everything from ``start_t`` on.

        Starts at the latest keyframe at or before ``start_t`` (or the oldest one held, if the
        buffer does not reach back that far). Packets at or before ``after`` (already in an
        earlier clip) are repeated only when the pre-roll cannot be had otherwise. Always
        starts at a keyframe; may be empty.
        """
        packets = list(self._packets)
        keys = [i for i, p in enumerate(packets) if p.keyframe]
        if not keys:
            return []
        before = [i for i in keys if packets[i].t <= start_t]
        fresh = [i for i in before if after is None or packets[i].t > after]
        if fresh:
            return packets[fresh[-1]:]
        if before:  # reaching back far enough means repeating the end of the previous clip
            return packets[before[-1]:]
        return packets[keys[0]:]

    def clear(self) -> None:
        self._packets.clear()
        self._bytes = 0
