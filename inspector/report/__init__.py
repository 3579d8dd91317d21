"""The static report of the library: ``<library>/report/index.html`` and one page per clip.

    build_report(library) -> Path of index.html   (rebuilt whole, swapped in atomically)
"""

from inspector.report.publish import build_report

__all__ = ["build_report"]
