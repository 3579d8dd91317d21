"""``python -m watcher.doctor``: the same as ``python -m watcher doctor``."""

import sys

from watcher.doctor.cli import main

sys.exit(main())
