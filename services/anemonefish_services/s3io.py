"""A seekable, read-only file object over one S3 object, in bounded memory.

Why hand-written: boto3's ``StreamingBody`` is forward-only, and decoders (libsndfile via
``soundfile``) seek: to find the file's length, to parse headers and trailing metadata, and
FLAC/MP3 seek tables. ``smart_open`` is the usual alternative; its S3 reader streams one
open-ended GET and reopens it on every backward seek, holds a read-ahead buffer of its own
size, and would add a dependency tree for ~150 lines. Here every request is a ranged GET of
at most one block, ``1 + read_ahead`` blocks are held (reused, never reallocated), a changed object
is detected (``If-Match`` on the ETag), interrupted bodies are retried (botocore retries the
call, not a body read that breaks halfway), and the bytes fetched are counted for metrics.

**Read-ahead.** While the decoder works through one block, the next ``read_ahead`` blocks
(2 by default) are fetched by as many background threads, each its own S3 stream, so S3's
latency and transfer overlap detection and each other instead of adding up (one 8 MiB GET
takes ~0.1-0.2 s at S3's 50-90 MB/s per stream; an hour of 48 kHz 16-bit audio is 41 such
GETs, ~4-7 s on one stream, against ~3 s of detection). It runs only after a sequential step
(or the first block), so a decoder seeking about fetches little it does not use; a failed
read-ahead is reported only if its block is then needed.

**Read errors and soundfile.** libsndfile calls ``read``/``seek`` through cffi callbacks;
cffi *prints and swallows* exceptions raised there, so libsndfile sees a short read (end of
file) and the decode ends early, or fails to open as a "corrupt" file. The reader therefore
remembers its first failure in :attr:`S3SeekableReader.error` (and keeps raising it): after
decoding, call :meth:`S3SeekableReader.raise_if_failed` -- including when the decoder
reported an audio error -- so a network failure is retried instead of producing a truncated
result or failing the job as corrupt.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import urllib3.exceptions
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError

MiB = 1024 * 1024
DEFAULT_BLOCK_SIZE = 8 * MiB
# Body bytes are copied into the block in pieces this size: the only other buffer alive.
CHUNK_SIZE = 256 * 1024

# Errors raised while the body of a GET is being read (or connecting): botocore does not
# retry those, so the reader does.
_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ResponseStreamingError,
    IncompleteReadError,
    ReadTimeoutError,
    ConnectionClosedError,
    EndpointConnectionError,
    BotocoreConnectionError,  # ConnectTimeoutError, SSLError, ProxyConnectionError...
    HTTPClientError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
    ConnectionError,
    TimeoutError,
)


class S3ReadError(OSError):
    """Reading the S3 object failed after retries. Transient: the job should be retried."""


class S3ObjectChangedError(S3ReadError):
    """The object was replaced while it was being read (its ETag changed)."""


class _ShortBodyError(Exception):
    """A ranged GET's body ended before the promised length."""


class S3SeekableReader(io.RawIOBase):
    """Read-only, seekable binary file over ``s3://bucket/key`` using ranged GETs.

    ``size`` (and the ETag that pins the object) come from one HeadObject; a missing
    object raises botocore's ``ClientError`` (code ``404``) from the constructor. Reads are
    served from one cached block of ``block_size`` bytes aligned to ``block_size``; a miss
    fetches that block with one GET, and the ``read_ahead`` blocks after it are fetched in
    the background. Memory held: ``1 + read_ahead`` blocks plus a ``CHUNK_SIZE`` piece in
    flight for each (:attr:`memory_budget_bytes`). ``bytes_fetched`` and ``get_requests``
    count the traffic. Not thread-safe (one decoder reads it; the read-ahead threads only
    fill buffers it hands them).
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        version_id: str | None = None,
        max_attempts: int = 4,
        retry_base_delay_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        read_ahead: int = 2,
        digest: str | None = None,
    ) -> None:
        super().__init__()
        if block_size < 1:
            raise ValueError(f"block_size must be positive, not {block_size}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        if read_ahead < 0:
            raise ValueError(f"read_ahead must be 0 or more blocks, not {read_ahead}")
        self._client = client
        self.bucket = bucket
        self.key = key
        self.block_size = block_size
        self._max_attempts = max_attempts
        self._retry_base_delay_s = retry_base_delay_s
        self._sleep = sleep
        self._block = bytearray()  # so close() (also run by __del__) works if HEAD fails
        self._spares: list[bytearray] = []  # free buffers for read-ahead
        # Read-aheads in flight, in block order: (block start, its fetch, the buffer it fills).
        self._ahead: deque[tuple[int, Future[None], bytearray]] = deque()
        # Read-aheads given up on whose fetch may still be writing their buffer.
        self._retired: list[tuple[int, Future[None], bytearray]] = []
        self._closing = False
        self._executor: ThreadPoolExecutor | None = None
        self._counting = threading.Lock()  # fetches in several threads update the counters
        # The object's digest (``hashlib`` name), fed each block in order from byte 0 as the
        # decoder takes it up. A digest can only grow in order: past a block the decoder
        # skipped, ``hexdigest()`` fetches the rest again (decoders read in order: a WAV,
        # FLAC or MP3 read through leaves nothing to fetch for it).
        self._hasher = hashlib.new(digest) if digest else None
        self._hashed = 0
        head_args: dict[str, str] = {"Bucket": bucket, "Key": key}
        if version_id:
            head_args["VersionId"] = version_id
        head = client.head_object(**head_args)
        self.size: int = int(head["ContentLength"])
        self.etag: str | None = head.get("ETag")
        self.version_id: str | None = version_id or head.get("VersionId")
        self._position = 0
        self._block = bytearray(min(block_size, self.size))
        self._block_start = -1  # nothing cached yet
        self._block_length = 0
        self._last_loaded = -1
        blocks = -(-self.size // block_size)
        self._read_ahead = max(0, min(read_ahead, blocks - 1))  # never more than there is to read
        self._spares = [bytearray(block_size) for _ in range(self._read_ahead)]
        self.bytes_fetched = 0
        self.get_requests = 0
        self.error: S3ReadError | None = None

    # -- io.RawIOBase -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def memory_budget_bytes(self) -> int:
        if self.closed:
            return 0
        return (1 + self._read_ahead) * (len(self._block) + CHUNK_SIZE)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def write(self, _data: Any) -> int:
        raise io.UnsupportedOperation("S3SeekableReader is read-only")

    def tell(self) -> int:
        self._check_open()
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._check_open()
        if whence == os.SEEK_SET:
            position = offset
        elif whence == os.SEEK_CUR:
            position = self._position + offset
        elif whence == os.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position  # past the end is allowed, as for regular files
        return position

    def readinto(self, buffer: Any) -> int:
        self._check_open()
        if self.error is not None:
            raise self.error
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._position < self.size:
            block_offset = self._position - self._block_start
            if self._block_start < 0 or not 0 <= block_offset < self._block_length:
                try:
                    self._load_block(self._position - self._position % self.block_size)
                except S3ReadError:
                    if filled:
                        return filled  # what was copied counts; the next call raises (self.error)
                    raise
                block_offset = self._position - self._block_start
            take = min(len(view) - filled, self._block_length - block_offset)
            view[filled : filled + take] = self._block[block_offset : block_offset + take]
            filled += take
            self._position += take
        return filled

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            return self.readall()
        # Do not allocate what the object cannot hold (read(huge) near the end).
        size = min(size, max(0, self.size - self._position))
        buffer = bytearray(size)
        return bytes(memoryview(buffer)[: self.readinto(buffer)])

    def readall(self) -> bytes:
        return self.read(max(0, self.size - self._position))

    def close(self) -> None:
        # Without waiting for the read-aheads: a stalled one would hold a worker that is out of
        # time. Each stops at its next piece or retry; its buffer goes with it.
        self._closing = True
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._ahead.clear()
        self._retired.clear()
        self._block, self._spares = bytearray(), []
        self._block_start, self._block_length = -1, 0
        super().close()

    # -- integrity ----------------------------------------------------------------------

    @property
    def unhashed_bytes(self) -> int:
        """What ``hexdigest()`` would still have to fetch (all of it without a digest)."""
        return self.size - self._hashed

    def hexdigest(self, between_blocks: Callable[[], None] | None = None) -> str:
        """The whole object's digest (``digest`` given to the constructor). The blocks the
        decoder read in order from byte 0 were hashed as it took them up; from the first
        block it skipped on, the rest is fetched now, calling ``between_blocks`` before each
        (a tail the decoder never read can be gigabytes: the caller keeps its lease, or stops)."""
        if self._hasher is None:
            raise ValueError("no digest was asked for")
        self._check_open()
        while self._hashed < self.size:
            if between_blocks is not None:
                between_blocks()
            self._load_block(self._hashed)  # hashes it; a read-ahead of it is used if there is one
        return self._hasher.hexdigest()

    # -- errors -------------------------------------------------------------------------

    def raise_if_failed(self) -> None:
        """Raise the read error a decoder may have swallowed (see the module docstring)."""
        if self.error is not None:
            raise self.error

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    # -- fetching -----------------------------------------------------------------------

    def _load_block(self, start: int) -> None:
        length = min(self.block_size, self.size - start)
        self._block_start, self._block_length = -1, 0  # invalid until fully loaded
        self._reclaim_retired()
        try:
            found = next((i for i, (at, _, _) in enumerate(self._ahead) if at == start), None)
            if found is None:
                # Not read ahead (a jump, or the first block): fetch it now, without waiting
                # for the read-aheads, which may be wanted later (an MP3 reads its end at open,
                # then goes on from the start). The current block is never one of theirs.
                self._fetch_into(self._block, start, length)
            else:
                for _ in range(found):  # read ahead of a block now skipped
                    self._retire(self._ahead.popleft())
                _, fetch, buffer = self._ahead.popleft()
                error = fetch.exception()
                if error is None:
                    self._spares.append(self._block)
                    self._block = buffer
                else:
                    self._spares.append(buffer)
                    if isinstance(error, S3ReadError):
                        raise error
                    self._fetch_into(self._block, start, length)  # not a read error: try it here
        except S3ReadError as exc:
            self.error = exc
            raise
        except Exception as exc:  # noqa: BLE001 -- inside libsndfile's callback, it would vanish
            self.error = S3ReadError(f"reading {self.name} at byte {start}: {type(exc).__name__}: {exc}")
            raise self.error from exc
        sequential = start == 0 or start == self._last_loaded + self.block_size
        self._block_start, self._block_length, self._last_loaded = start, length, start
        if self._hasher is not None and start == self._hashed:
            self._hasher.update(memoryview(self._block)[:length])
            self._hashed += length
        if sequential:
            self._top_up_read_ahead(start)

    def _top_up_read_ahead(self, start: int) -> None:
        """Keep the ``read_ahead`` blocks after ``start`` fetching."""
        if self._ahead and self._ahead[0][0] != start + self.block_size:
            while self._ahead:  # read ahead of somewhere else
                self._retire(self._ahead.popleft())
            self._reclaim_retired()
        following = self._ahead[-1][0] if self._ahead else start
        while self._spares and (following := following + self.block_size) < self.size:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._read_ahead, thread_name_prefix="s3-read-ahead")
            buffer = self._spares.pop()
            length = min(self.block_size, self.size - following)
            self._ahead.append((following, self._executor.submit(self._fetch_into, buffer, following, length), buffer))

    def _retire(self, entry: tuple[int, Future[None], bytearray]) -> None:
        entry[1].cancel()  # one not started yet never runs; a running one finishes on its own
        self._retired.append(entry)

    def _reclaim_retired(self) -> None:
        """Buffers of given-up read-aheads whose fetch has ended are free again."""
        still = []
        for entry in self._retired:
            if entry[1].done():
                self._spares.append(entry[2])
            else:
                still.append(entry)
        self._retired = still

    def _fetch_into(self, block: bytearray, start: int, length: int) -> None:
        request: dict[str, str] = {
            "Bucket": self.bucket,
            "Key": self.key,
            "Range": f"bytes={start}-{start + length - 1}",
        }
        if self.version_id:
            request["VersionId"] = self.version_id
        elif self.etag:
            request["IfMatch"] = self.etag
        target = memoryview(block)
        for attempt in range(1, self._max_attempts + 1):
            if self._closing:
                raise S3ReadError(f"{self.name}: closed while reading")
            try:
                with self._counting:
                    self.get_requests += 1
                body = self._client.get_object(**request)["Body"]
                try:
                    received = 0
                    while received < length:
                        if self._closing:
                            raise S3ReadError(f"{self.name}: closed while reading")
                        piece = body.read(min(CHUNK_SIZE, length - received))
                        if not piece:
                            raise _ShortBodyError(f"body ended after {received} of {length} bytes")
                        target[received : received + len(piece)] = piece
                        received += len(piece)
                        with self._counting:
                            self.bytes_fetched += len(piece)
                finally:
                    body.close()
                return
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in ("PreconditionFailed", "412"):
                    raise S3ObjectChangedError(
                        f"{self.name} changed while it was being read (ETag no longer {self.etag})"
                    ) from exc
                if code in ("NoSuchKey", "404", "NoSuchVersion"):
                    raise S3ReadError(f"{self.name} disappeared while it was being read") from exc
                # Throttling and 5xx were already retried by botocore's retry config.
                raise S3ReadError(f"reading bytes {start}-{start + length - 1} of {self.name}: {exc}") from exc
            except (*_TRANSIENT_ERRORS, _ShortBodyError) as exc:
                if attempt == self._max_attempts:
                    raise S3ReadError(
                        f"reading bytes {start}-{start + length - 1} of {self.name} failed "
                        f"{attempt} times: {type(exc).__name__}: {exc}"
                    ) from exc
                cap = self._retry_base_delay_s * 2 ** (attempt - 1)
                self._sleep(cap / 2 + random.uniform(0, cap / 2))
