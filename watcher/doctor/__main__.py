"""``python -m watcher.doctor``: the same as ``python -m watcher doctor``, logging only warnings unless told
otherwise."""

import argparse
import sys

from shared import cli
from watcher.doctor import cli as doctor


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m watcher doctor", description=doctor.__doc__.splitlines()[0])
    cli.wire(p, doctor, log_level="WARNING")
    return p


if __name__ == "__main__":
    sys.exit(cli.main(build_parser()))
