"""Quieting the C libraries under the library, which print to the process's stderr themselves."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration.

    For LiteRT's C++ "Created TensorFlow Lite XNNPACK delegate" line, which no setting
    turns off, and libmpg123's "Illegal Audio-MPEG-Header" notes while libsndfile probes a
    file that is not MP3 after all. Failures still surface as Python exceptions, which this
    does not touch. Only for short calls: whatever any thread writes to stderr meanwhile is lost.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (embedded interpreters): nothing to silence
        yield
        return
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
