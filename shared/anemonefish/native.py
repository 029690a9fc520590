"""Quieting the C libraries under the library, which print to the process's stderr themselves."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
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


class NativeStderrCapture:
    """Collects what C libraries write to file descriptor 2 while entered (reusable), for
    libmpg123, which prints its notes on damaged frames ("Illegal Audio-MPEG-Header ...",
    "Skipped 240 bytes in input") while libsndfile reads an MP3, and tells the caller nothing.
    The caller keeps what is its to read and writes the rest back (:meth:`release`), so other
    threads' output is delayed by one read, not lost."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()
        self._saved: int | None = None
        self.captured = b""

    def __enter__(self) -> NativeStderrCapture:
        self.captured = b""
        try:
            self._saved = os.dup(2)
        except OSError:  # no real stderr (embedded interpreters): nothing to capture
            self._saved = None
            return self
        sys.stderr.flush()
        self._file.seek(0)
        self._file.truncate()
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *_: object) -> None:
        if self._saved is None:
            return
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._saved = None
        self._file.seek(0)
        self.captured = self._file.read()

    @staticmethod
    def release(text: bytes) -> None:
        """Write ``text`` to the process's stderr, where it was meant to go."""
        if text:
            os.write(2, text)

    def close(self) -> None:
        self._file.close()
