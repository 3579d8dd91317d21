"""Fake of picamera2/outputs/__init__.py (only Output is mirrored)."""

from .output import Output

__all__ = ["Output"]
