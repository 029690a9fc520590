"""Where a RIFF WAV's audio really is, when its header says less than the file holds.

A recorder that stops before it finishes its header leaves the data chunk's size at 0 (it
is written when the file is closed), and a writer that does not switch to RF64 past 4 GiB
wraps the 32-bit size around. libsndfile believes the header: it reads no audio, or the
first few seconds of hours, and says so only in its log ("Unknown chunk marker ... Exiting
parser", where audio follows). Those two cases are recoverable exactly (the audio runs to
the end of the file, or for the wrapped size plus whole multiples of 4 GiB), and the audio
is then read as raw frames through a window on the file. libsndfile reads nothing at an
offset, hence :class:`FileWindow`; the chunk walk is a few reads of 8-byte headers.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

_RIFF_SIZE_LIMIT = 2**32  # a RIFF chunk's size is 32 bits
_MAX_CHUNKS = 1024  # before the data chunk; a real header has a handful
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_EXTENSIBLE_FMT_BYTES = 40  # the 16 of a plain fmt chunk, 2 of size, 2 + 4 + the sub-format's 16


@dataclass(frozen=True)
class DataChunk:
    """A RIFF WAV's audio chunk: where its bytes start, what the header says of them, and
    how many the file holds from there."""

    offset: int
    declared_bytes: int
    available_bytes: int
    block_align: int  # bytes a frame, from the fmt chunk

    def recoverable_bytes(self) -> int | None:
        """The audio's true size when the header's is a known mistake, else None: 0 (a header
        never finished: the audio runs to the end) or wrapped past 4 GiB (the declared size
        plus the whole multiples of 4 GiB that fit in the file)."""
        if self.available_bytes <= self.declared_bytes:
            return None
        if self.declared_bytes == 0:
            size = self.available_bytes
        elif self.available_bytes >= _RIFF_SIZE_LIMIT:
            wraps = (self.available_bytes - self.declared_bytes) // _RIFF_SIZE_LIMIT
            size = self.declared_bytes + wraps * _RIFF_SIZE_LIMIT
        else:
            return None
        return size - size % self.block_align if size > self.declared_bytes else None


def _chunks(stream: BinaryIO) -> Iterator[tuple[bytes, int, int]]:
    """A little-endian RIFF WAVE's chunks (not RF64, not RIFX) as (id, offset of the chunk's
    header, declared size), in file order; nothing for other files. Moves the stream."""
    stream.seek(0)
    head = stream.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    position = 12
    for _ in range(_MAX_CHUNKS):
        stream.seek(position)
        header = stream.read(8)
        if len(header) < 8:
            return
        size = struct.unpack("<I", header[4:])[0]
        yield header[:4], position, size
        position += 8 + size + (size & 1)  # chunks are padded to even sizes


def find_data_chunk(stream: BinaryIO) -> DataChunk | None:
    """The data chunk of a little-endian RIFF WAVE (not RF64, not RIFX), or None."""
    start = stream.tell()
    try:
        stream.seek(0, os.SEEK_END)
        file_size = stream.tell()
        block_align = 0
        for chunk_id, position, size in _chunks(stream):
            if chunk_id == b"fmt ":
                fmt = stream.read(min(size, 16))
                if len(fmt) >= 14:
                    block_align = struct.unpack("<H", fmt[12:14])[0]
            elif chunk_id == b"data":
                if block_align <= 0:
                    return None
                return DataChunk(position + 8, size, file_size - position - 8, block_align)
        return None
    finally:
        stream.seek(start)


def wav_format_tag(stream: BinaryIO) -> int | None:
    """The format tag of a RIFF WAVE's fmt chunk (1 for PCM, 3 for float, ...), or None. For
    WAVE_FORMAT_EXTENSIBLE, the tag its sub-format GUID carries in its first two bytes."""
    start = stream.tell()
    try:
        for chunk_id, _, size in _chunks(stream):
            if chunk_id == b"fmt ":
                fmt = stream.read(min(size, _EXTENSIBLE_FMT_BYTES))
                if len(fmt) < 2:
                    return None
                tag = struct.unpack("<H", fmt[:2])[0]
                if tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt) == _EXTENSIBLE_FMT_BYTES:
                    return struct.unpack("<H", fmt[24:26])[0]
                return tag
        return None
    finally:
        stream.seek(start)


class FileWindow(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes of ``stream`` from ``offset``, as a
    file of its own (what libsndfile opens to read raw frames that start mid-file)."""

    def __init__(self, stream: BinaryIO, offset: int, length: int) -> None:
        super().__init__()
        self._stream, self._offset, self._length, self._position = stream, offset, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, position: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._length}[whence]
        self._position = max(0, base + position)
        return self._position

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self._length - self._position)
        if wanted <= 0:
            return 0
        self._stream.seek(self._offset + self._position)
        count = self._stream.readinto(memoryview(buffer).cast("B")[:wanted]) or 0  # type: ignore[attr-defined]
        self._position += count  # straight into libsndfile's buffer
        return count
