"""Why: ``Picamera2()`` allocates its frame buffers from a DMA heap (/dev/dma_heap/vidbuf_cached or
linux,cma), and brackets every access with the dma-buf ``DMA_BUF_IOCTL_SYNC`` ioctl. This kernel has no
DMA heap (nor udmabuf), so here the buffers are ``memfd_create`` memory: the virtual camera maps and
fills them like any fd-backed buffer, and there is no cache to sync (the ioctl would fail on a memfd).

The virtual camera writes NV12 through two planes (Y, then interleaved UV); both planes live in one
memfd, one after the other, as picamera2 expects of a contiguous buffer. Installed as
``picamera2.picamera2.DmaAllocator``, the name ``Picamera2.__init__`` and ``close()`` instantiate.
"""

from __future__ import annotations

import mmap
import os
from typing import Any


def install() -> None:
    import libcamera
    import picamera2.picamera2 as module
    from picamera2.allocators import DmaAllocator
    from picamera2.allocators.allocator import Allocator, Sync

    class MappedSync(Sync):
        """The buffer is plain shared memory: hand out the mapping, nothing to sync."""

        def __init__(self, allocator: Any, fb: Any, write: bool) -> None:
            self._allocator, self._fb = allocator, fb

        def __enter__(self) -> mmap.mmap:
            return self._allocator.mapped_buffers[self._fb]

        def __exit__(self, *exc: object) -> None:
            pass

    class MemfdAllocator(DmaAllocator):
        def __init__(self) -> None:
            Allocator.__init__(self)  # not DmaAllocator.__init__: it opens the DMA heap
            self.dmaHeap = None
            self.mapped_buffers: dict[Any, mmap.mmap] = {}
            self.mapped_buffers_used: dict[int, bool] = {}
            self.frame_buffers: dict[Any, list[Any]] = {}
            self.open_fds: list[int] = []
            self.libcamera_fds: list[int] = []
            self.sync = MappedSync

        def allocate(self, libcamera_config: Any, _use_case: Any) -> None:
            # The bookkeeping is DmaAllocator.allocate's; only where the memory comes from differs.
            self.libcamera_fds = []
            self.cleanup()
            for fd in self.open_fds:
                os.close(fd)
            self.frame_buffers, self.open_fds = {}, []
            for stream_config in libcamera_config:
                size = stream_config.frame_size
                luma = stream_config.stride * stream_config.size.height
                two_planes = str(stream_config.pixel_format) == "NV12" and 0 < luma < size
                buffers = []
                for i in range(stream_config.buffer_count):
                    fd = os.memfd_create(f"picamera2-{i}", os.MFD_CLOEXEC)
                    os.ftruncate(fd, size)
                    self.open_fds.append(fd)
                    planes = []
                    for offset, length in ([(0, luma), (luma, size - luma)] if two_planes else [(0, size)]):
                        plane = libcamera.FrameBuffer.Plane()
                        plane.fd, plane.offset, plane.length = fd, offset, length
                        planes.append(plane)
                    # Plane.fd holds a dup of our fd (libcamera's SharedFD); picamera2 keys its books by it.
                    self.libcamera_fds.append(planes[0].fd)
                    self.mapped_buffers_used[planes[0].fd] = False
                    buffers.append(libcamera.FrameBuffer(planes))
                    self.mapped_buffers[buffers[-1]] = mmap.mmap(fd, size, mmap.MAP_SHARED,
                                                                 mmap.PROT_READ | mmap.PROT_WRITE)
                self.frame_buffers[stream_config.stream] = buffers

    module.DmaAllocator = MemfdAllocator
