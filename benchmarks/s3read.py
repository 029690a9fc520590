"""The worker's S3 reader over a simulated S3: an hour of audio through detection, with and
without read-ahead.

moto on localhost serves a block in milliseconds, so the local stack cannot show what the
read-ahead is for. Here a file-backed client charges each GetObject a first-byte latency and
streams its body at a fixed rate (sleeping, as a socket wait would, without holding the
GIL), at figures typical of one S3 stream from Lambda. The figures are a model of S3, not a
measurement of it.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.detection import reef_recording

FIRST_BYTE_S = 0.03
BYTES_PER_S = 80e6  # one stream; S3 gives roughly 50-100 MB/s per connection


class SimulatedS3:
    """``head_object``/``get_object`` over a local file, at S3-like latency and throughput."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def head_object(self, **_: Any) -> dict[str, Any]:
        return {"ContentLength": self.path.stat().st_size, "ETag": '"simulated"'}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        start, end = (int(v) for v in kwargs["Range"].removeprefix("bytes=").split("-"))
        time.sleep(FIRST_BYTE_S)
        return {"Body": _SlowBody(self.path, start, end - start + 1)}


class _SlowBody:
    def __init__(self, path: Path, start: int, length: int) -> None:
        self.handle = path.open("rb")
        self.handle.seek(start)
        self.left = length

    def read(self, amt: int | None = None) -> bytes:
        piece = self.handle.read(min(amt or self.left, self.left))
        self.left -= len(piece)
        time.sleep(len(piece) / BYTES_PER_S)
        return piece

    def close(self) -> None:
        self.handle.close()


def _detect_through_reader(detector: Any, path: Path, read_ahead: int, digest: str | None = None) -> dict[str, float]:
    from anemonefish_services.s3io import S3SeekableReader

    expected = hashlib.new(digest, path.read_bytes()).hexdigest() if digest is not None else None
    reader = S3SeekableReader(SimulatedS3(path), "bench", path.name, read_ahead=read_ahead, digest=digest)
    try:
        start = time.perf_counter()
        result = detector.run(reader, filename=path.name)
        # The worker's check, whole: what the decoder left unread is fetched and hashed too.
        if expected is not None and reader.hexdigest() != expected:
            raise AssertionError("the reader's digest differs from the file's")
        wall = time.perf_counter() - start
        reader.raise_if_failed()
    finally:
        reader.close()
    return {"wall_s": round(wall, 2), "get_requests": reader.get_requests, "events": len(result.events)}


def run() -> dict[str, object]:
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")  # as in the worker's image
    from anemonefish.detect import Detector
    from anemonefish.model import load_bundle
    from anemonefish_services.s3io import DEFAULT_BLOCK_SIZE, MiB

    path = reef_recording(3600.0)
    detector = Detector(load_bundle())
    local_s = min(_time_local(detector, path) for _ in range(2))
    transfer_s = path.stat().st_size / BYTES_PER_S
    runs = {blocks: [_detect_through_reader(detector, path, blocks) for _ in range(2)] for blocks in (0, 1, 2)}
    best = {blocks: min(r["wall_s"] for r in results) for blocks, results in runs.items()}
    # A job created with sha256: the worker hashes each block as the decoder takes it up.
    hashed = [_detect_through_reader(detector, path, 2, digest="sha256") for _ in range(2)]
    return {
        "recording": "one hour, 48 kHz 16-bit mono WAV",
        "simulated_s3": {"first_byte_s": FIRST_BYTE_S, "mb_per_s": BYTES_PER_S / 1e6, "block_mib": DEFAULT_BLOCK_SIZE // MiB},
        "detection_from_local_file_s": round(local_s, 2),
        "s3_transfer_one_stream_s": round(transfer_s + runs[0][0]["get_requests"] * FIRST_BYTE_S, 2),
        "no_read_ahead_s": best[0],
        "read_ahead_1_block_s": best[1],
        "read_ahead_2_blocks_s": best[2],
        "speedup_shipped": round(best[0] / best[2], 2),
        "read_ahead_2_blocks_with_sha256_s": min(r["wall_s"] for r in hashed),
        "runs": {**{f"read_ahead_{blocks}": results for blocks, results in runs.items()}, "read_ahead_2_sha256": hashed},
    }


def _time_local(detector: Any, path: Path) -> float:
    start = time.perf_counter()
    detector.run(path)
    return time.perf_counter() - start
