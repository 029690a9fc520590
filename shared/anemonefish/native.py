"""Quieting the C libraries under the library, which print to the process's stderr themselves.

File descriptor 2 belongs to the whole process, so every redirection of it here holds one
lock: two threads redirecting at once would restore each other's copies and leave fd 2
pointing at a deleted temporary file, and each would read the other's notes. Nothing is
redirected when the process has no stderr (started with ``2>&-``): fd 2 may then be any
file the process opened since, such as the recording being decoded.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

_FD2 = threading.RLock()  # re-entrant: a redirection nested in one thread restores in order


def _saved_stderr() -> int | None:
    """A copy of fd 2 to restore it from, or None when there is no stderr to redirect."""
    if sys.stderr is None:  # Python's sign that fd 2 was closed when it started
        return None
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (embedded interpreters): nothing to redirect
        return None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.flush()
    return saved


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration.

    For LiteRT's C++ "Created TensorFlow Lite XNNPACK delegate" line, which no setting
    turns off, and libmpg123's "Illegal Audio-MPEG-Header" notes while libsndfile probes a
    file that is not MP3 after all. Failures still surface as Python exceptions, which this
    does not touch. Only for short calls: whatever any thread writes to stderr meanwhile is lost.
    """
    with _FD2:
        saved = _saved_stderr()
        if saved is None:
            yield
            return
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
    threads' output is delayed by one read, not lost. Entered, it holds the process-wide
    lock: MP3 block reads in several threads take turns."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()
        self._saved: int | None = None
        self.captured = b""

    def __enter__(self) -> NativeStderrCapture:
        self.captured = b""
        _FD2.acquire()
        self._saved = _saved_stderr()
        if self._saved is not None:
            self._file.seek(0)
            self._file.truncate()
            os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *_: object) -> None:
        try:
            if self._saved is not None:
                os.dup2(self._saved, 2)
                os.close(self._saved)
                self._saved = None
                self._file.seek(0)
                self.captured = self._file.read()
        finally:
            _FD2.release()

    @staticmethod
    def release(text: bytes) -> None:
        """Write ``text`` to the process's stderr, where it was meant to go (never raises:
        a closed or broken stderr must not replace a decoding error being raised)."""
        if sys.stderr is None:  # fd 2 is no stderr then (see above): nothing is written into another file
            return
        view = memoryview(text)
        with contextlib.suppress(OSError):
            while view:
                view = view[os.write(2, view):]

    def close(self) -> None:
        self._file.close()
