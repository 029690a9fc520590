"""The seekable S3 reader against in-process moto: file semantics (checked against
``io.BytesIO`` on random operations), soundfile decoding through it, bounded memory,
retries of broken bodies, and errors that soundfile would otherwise swallow."""

from __future__ import annotations

import io
import math
import os
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import soundfile as sf
from botocore.exceptions import ClientError, ResponseStreamingError
from moto import mock_aws

from anemonefish_services import s3io
from support import REAL_WAV as REAL_RECORDING

from anemonefish_services.s3io import CHUNK_SIZE, S3ObjectChangedError, S3ReadError, S3SeekableReader

REGION = "eu-west-1"
BUCKET = "anemonefish-test-input"
KiB = 1024



@pytest.fixture
def s3(fake_aws_credentials: Any) -> Iterator[Any]:
    fake_aws_credentials(REGION)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def put(s3: Any, key: str, data: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)


def put_random(s3: Any, key: str, size: int) -> bytes:
    data = os.urandom(size)
    put(s3, key, data)
    return data


def record_ranges(s3: Any) -> list[tuple[int, int]]:
    """(start, end) of every GetObject the client sends, inclusive as in the header."""
    ranges: list[tuple[int, int]] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        start, end = params["Range"].removeprefix("bytes=").split("-")
        ranges.append((int(start), int(end)))

    s3.meta.events.register("before-parameter-build.s3.GetObject", remember)
    return ranges


class NoSleep(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# ---------------------------------------------------------------- file semantics


def test_random_seeks_and_reads_match_bytesio(s3: Any) -> None:
    rng = random.Random(20261123)
    block = 64 * KiB
    data = rng.randbytes(16 * block + 12345)
    put(s3, "uploads/j/random.bin", data)
    reader = S3SeekableReader(s3, BUCKET, "uploads/j/random.bin", block_size=block)
    expected = io.BytesIO(data)
    assert reader.size == len(data) and reader.seekable() and reader.readable() and not reader.writable()

    for _ in range(400):
        op = rng.random()
        if op < 0.35:
            whence = rng.choice([os.SEEK_SET, os.SEEK_CUR, os.SEEK_END])
            base = {os.SEEK_SET: 0, os.SEEK_CUR: expected.tell(), os.SEEK_END: len(data)}[whence]
            target = rng.choice([rng.randrange(0, len(data)), rng.randrange(0, len(data) + 3 * block), 0, len(data)])
            assert reader.seek(target - base, whence) == expected.seek(target - base, whence)
        elif op < 0.85:
            size = rng.choice([0, 1, 7, rng.randrange(1, block), block, rng.randrange(block, 3 * block), len(data)])
            assert reader.read(size) == expected.read(size)
        elif op < 0.97:
            size = rng.choice([1, 13, rng.randrange(1, 2 * block)])
            got, want = bytearray(size), bytearray(size)
            assert reader.readinto(got) == expected.readinto(want)
            assert got == want
        else:
            assert reader.read() == expected.read()
        assert reader.tell() == expected.tell()

    # Nothing bigger than one block was ever requested (it is a cache, not a download).
    assert reader.bytes_fetched <= reader.get_requests * block


def test_sequential_small_reads_fetch_every_byte_once_in_block_sized_ranges(s3: Any) -> None:
    block = 64 * KiB
    data = put_random(s3, "uploads/j/seq.bin", 10 * block + 999)
    ranges = record_ranges(s3)
    reader = S3SeekableReader(s3, BUCKET, "uploads/j/seq.bin", block_size=block)
    chunks = []
    while chunk := reader.read(1000):
        chunks.append(chunk)
    assert b"".join(chunks) == data
    assert reader.get_requests == len(ranges) == math.ceil(len(data) / block)
    assert reader.bytes_fetched == len(data)
    # (Read-ahead threads may send neighbouring requests in either order.)
    assert sorted(ranges) == [(start, min(start + block, len(data)) - 1) for start in range(0, len(data), block)]
    # Seeking back inside the cached (last) block costs no request.
    reader.seek(-500, os.SEEK_END)
    assert reader.read() == data[-500:]
    assert reader.get_requests == len(ranges)


class SlowS3:
    """Real moto client whose GetObject bodies arrive slowly, recording when each request
    started and which thread sent it; ``fail_ranges`` fail every attempt."""

    def __init__(self, client: Any, delay_s: float = 0.05, fail_ranges: tuple[str, ...] = ()) -> None:
        self.client, self.delay_s, self.fail_ranges = client, delay_s, fail_ranges
        self.requests: list[tuple[str, str]] = []

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        return self.client.head_object(**kwargs)

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        import threading
        import time

        self.requests.append((kwargs["Range"], threading.current_thread().name))
        time.sleep(self.delay_s)
        if kwargs["Range"] in self.fail_ranges:
            raise ResponseStreamingError(error="connection reset by peer")
        return self.client.get_object(**kwargs)


def test_the_next_block_is_fetched_in_the_background_while_this_one_is_read(s3: Any) -> None:
    import time

    block = 64 * KiB
    data = put_random(s3, "uploads/j/ahead.bin", 6 * block + 100)
    slow = SlowS3(s3)
    reader = S3SeekableReader(slow, BUCKET, "uploads/j/ahead.bin", block_size=block)
    assert reader.read(10) == data[:10]
    time.sleep(0.3)  # the decoder busy with the first block
    # Blocks 1 and 2 were asked for while block 0 was being read, by the read-ahead threads.
    assert slow.requests[0] == (f"bytes=0-{block - 1}", "MainThread")
    assert {r for r, _ in slow.requests[1:]} == {f"bytes={block}-{2 * block - 1}", f"bytes={2 * block}-{3 * block - 1}"}
    assert all(thread.startswith("s3-read-ahead") for _, thread in slow.requests[1:])
    assert len({thread for _, thread in slow.requests[1:]}) == 2  # two streams at once
    chunks = [data[:10]]
    while chunk := reader.read(5000):
        chunks.append(chunk)
    assert b"".join(chunks) == data
    # Every block once, and nothing past the end; only the first was waited for.
    fetched = [r for r, _ in slow.requests]
    assert len(fetched) == len(set(fetched)) and set(fetched) == {
        f"bytes={start}-{min(start + block, len(data)) - 1}" for start in range(0, len(data), block)
    }
    assert [thread for _, thread in slow.requests].count("MainThread") == 1
    assert reader.bytes_fetched == len(data)
    reader.close()


def test_a_seek_away_ignores_the_read_ahead_and_its_failure_unless_its_block_is_needed(s3: Any) -> None:
    block = 64 * KiB
    data = put_random(s3, "uploads/j/jump.bin", 8 * block)
    # Every attempt at block 1 fails: a read-ahead that is never used must not fail the read.
    slow = SlowS3(s3, delay_s=0.0, fail_ranges=(f"bytes={block}-{2 * block - 1}",))
    reader = S3SeekableReader(slow, BUCKET, "uploads/j/jump.bin", block_size=block, sleep=NoSleep())
    assert reader.read(4) == data[:4]
    reader.seek(5 * block + 7)
    assert reader.read(100) == data[5 * block + 7 : 5 * block + 107]
    assert reader.error is None
    # A jump is not a sequential step: nothing is read ahead of it.
    assert not any(r == f"bytes={6 * block}-{7 * block - 1}" for r, _ in slow.requests)
    # Reading on from the jump is sequential again, and the block that failed, once needed,
    # fails the read with the S3 error (after its retries).
    assert reader.read(block) == data[5 * block + 107 : 6 * block + 107]
    reader.seek(block)
    with pytest.raises(S3ReadError, match=f"bytes {block}-{2 * block - 1}"):
        reader.read(10)
    assert isinstance(reader.error, S3ReadError)
    reader.close()


def test_the_digest_covers_the_whole_object_whatever_the_decoder_skipped(s3: Any) -> None:
    import hashlib

    block = 64 * KiB
    data = put_random(s3, "uploads/j/hashed.bin", 7 * block + 321)
    want = hashlib.sha256(data).hexdigest()
    # Read straight through: every byte hashed as it arrives, nothing fetched twice.
    reader = S3SeekableReader(s3, BUCKET, "uploads/j/hashed.bin", block_size=block, digest="sha256")
    assert reader.read() == data
    requests_before = reader.get_requests
    assert reader.hexdigest() == want and reader.get_requests == requests_before
    # A decoder that reads the header, jumps to the end and back into the middle: the blocks
    # it skipped are fetched for the digest, and reading goes on correctly after.
    reader = S3SeekableReader(s3, BUCKET, "uploads/j/hashed.bin", block_size=block, digest="sha256")
    assert reader.read(100) == data[:100]
    reader.seek(-10, os.SEEK_END)
    assert reader.read() == data[-10:]
    reader.seek(3 * block + 5)
    assert reader.read(block) == data[3 * block + 5 : 4 * block + 5]
    assert reader.unhashed_bytes == len(data) - block  # hashing stopped where block 1 was skipped
    assert reader.hexdigest() == want and reader.unhashed_bytes == 0
    reader.seek(2 * block)
    assert reader.read(10) == data[2 * block : 2 * block + 10]
    # Without a digest asked for there is none to give.
    with pytest.raises(ValueError, match="no digest"):
        S3SeekableReader(s3, BUCKET, "uploads/j/hashed.bin", block_size=block).hexdigest()


def test_fetching_for_the_digest_looks_to_the_caller_before_each_block(s3: Any) -> None:
    """A tail the decoder never read can be gigabytes: the worker keeps its lease, or stops."""
    import hashlib

    block = 64 * KiB
    data = put_random(s3, "uploads/j/tail.bin", 5 * block)
    reader = S3SeekableReader(s3, BUCKET, "uploads/j/tail.bin", block_size=block, digest="sha256", read_ahead=0)
    assert reader.read(100) == data[:100]  # a header, then nothing more
    looks: list[int] = []
    assert reader.hexdigest(between_blocks=lambda: looks.append(reader.unhashed_bytes)) == hashlib.sha256(data).hexdigest()
    assert looks == [4 * block, 3 * block, 2 * block, block]
    # A caller that stops it: no block is fetched after the refusal.
    reader = S3SeekableReader(s3, BUCKET, "uploads/j/tail.bin", block_size=block, digest="sha256", read_ahead=0)
    reader.read(100)
    requests = reader.get_requests

    def stop() -> None:
        raise RuntimeError("out of time")

    with pytest.raises(RuntimeError, match="out of time"):
        reader.hexdigest(between_blocks=stop)
    assert reader.get_requests == requests


class ScriptedS3:
    """In-memory object whose GetObject fails for chosen blocks with a chosen error, or waits
    on an event; records the block of every request."""

    def __init__(self, data: bytes, block: int, fail: dict[int, BaseException] | None = None,
                 hold: dict[int, Any] | None = None) -> None:
        self.data, self.block, self.fail, self.hold = data, block, fail or {}, hold or {}
        self.blocks: list[int] = []

    def head_object(self, **_: Any) -> dict[str, Any]:
        return {"ContentLength": len(self.data), "ETag": '"e"'}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        start, end = (int(v) for v in kwargs["Range"].removeprefix("bytes=").split("-"))
        self.blocks.append(start // self.block)
        if start // self.block in self.hold:
            self.hold[start // self.block].wait()
        if start // self.block in self.fail:
            raise self.fail[start // self.block]
        return {"Body": io.BytesIO(self.data[start : end + 1])}


@pytest.mark.parametrize("read_ahead", [0, 2])
def test_a_connect_timeout_inside_the_decoder_is_remembered_not_taken_for_the_end(read_ahead: int) -> None:
    """botocore's ConnectTimeoutError is neither a builtin ConnectionError nor retried by the
    reader before; raised inside libsndfile's callback it vanished and the decode ended early."""
    from botocore.exceptions import ConnectTimeoutError

    audio = (np.random.default_rng(0).standard_normal(48_000 * 4) * 0.1).astype(np.float32)
    encoded = io.BytesIO()
    sf.write(encoded, audio, 48_000, format="WAV", subtype="PCM_16")
    block = 64 * KiB
    client = ScriptedS3(encoded.getvalue(), block, fail={3: ConnectTimeoutError(endpoint_url="https://s3")})
    reader = S3SeekableReader(client, BUCKET, "k", block_size=block, read_ahead=read_ahead, sleep=NoSleep())
    with sf.SoundFile(reader) as sound:
        decoded = sound.read(dtype="float32")
    assert len(decoded) < len(audio)  # libsndfile saw an end of file ...
    with pytest.raises(S3ReadError, match="ConnectTimeoutError"):
        reader.raise_if_failed()  # ... which the reader knows was not one
    reader.close()


def test_bytes_read_before_a_failing_block_are_kept() -> None:
    block = 4 * KiB
    data = os.urandom(5 * block)
    reader = S3SeekableReader(ScriptedS3(data, block, fail={3: RuntimeError("boom")}), BUCKET, "k",
                              block_size=block, read_ahead=0)
    reader.seek(3 * block - 10)
    assert reader.read(20) == data[3 * block - 10 : 3 * block]  # the 10 bytes it had
    assert reader.tell() == 3 * block
    with pytest.raises(S3ReadError, match="RuntimeError: boom"):
        reader.read(1)  # any failure is an S3ReadError, remembered
    assert isinstance(reader.error, S3ReadError)


def test_a_jump_to_the_end_and_back_keeps_what_was_read_ahead() -> None:
    """An MP3 is read at its end when opened, then from the start: the read-aheads of the
    start are kept for when the decoder comes back (they were waited for and thrown away)."""
    block = 4 * KiB
    data = os.urandom(8 * block + 5)
    client = ScriptedS3(data, block)
    reader = S3SeekableReader(client, BUCKET, "k", block_size=block, read_ahead=2)
    assert reader.read(10) == data[:10]  # block 0; blocks 1 and 2 are read ahead
    reader.seek(-5, os.SEEK_END)
    assert reader.read() == data[-5:]  # block 8, fetched now
    reader.seek(0)
    assert reader.read() == data  # block 0 again, then 1 and 2 from the read-ahead
    # Blocks 1 and 2 once; 0 and 8 twice, as the one cached block moved between them.
    assert sorted(client.blocks) == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8]
    reader.close()


def test_close_does_not_wait_for_a_stalled_read_ahead_and_nothing_outgrows_the_object() -> None:
    import threading

    block = 4 * KiB
    stall = threading.Event()
    client = ScriptedS3(os.urandom(3 * block), block, hold={1: stall})
    reader = S3SeekableReader(client, BUCKET, "k", block_size=block, read_ahead=5)
    # Three blocks: at most two of them can ever be read ahead.
    assert reader.memory_budget_bytes == 3 * (block + CHUNK_SIZE)
    reader.read(10)  # block 1's read-ahead now hangs on `stall`
    closing = threading.Thread(target=reader.close)
    closing.start()
    closing.join(timeout=10)  # a close that waited would still be waiting: the fetch never ends
    try:
        assert not closing.is_alive() and not stall.is_set()  # a worker out of time must not wait on it
        assert reader.memory_budget_bytes == 0
    finally:
        stall.set()


def test_seek_edge_cases(s3: Any) -> None:
    put(s3, "uploads/j/small.bin", b"0123456789")
    reader = S3SeekableReader(s3, BUCKET, "uploads/j/small.bin", block_size=4)
    assert reader.name == f"s3://{BUCKET}/uploads/j/small.bin"
    assert reader.seek(-3, os.SEEK_END) == 7 and reader.read(10) == b"789"
    assert reader.read(5) == b"" and reader.readinto(bytearray(3)) == 0
    assert reader.seek(100) == 100 and reader.read() == b"" and reader.tell() == 100
    assert reader.seek(-98, os.SEEK_CUR) == 2 and reader.read(3) == b"234"
    with pytest.raises(ValueError, match="negative"):
        reader.seek(-1)
    with pytest.raises(ValueError, match="negative"):
        reader.seek(-11, os.SEEK_END)
    with pytest.raises(ValueError, match="whence"):
        reader.seek(0, 3)
    with pytest.raises(io.UnsupportedOperation):
        reader.write(b"x")
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.read(1)
    with pytest.raises(ValueError, match="closed"):
        reader.seek(0)


def test_empty_object(s3: Any) -> None:
    put(s3, "uploads/j/empty.bin", b"")
    reader = S3SeekableReader(s3, BUCKET, "uploads/j/empty.bin")
    assert reader.size == 0 and reader.read() == b"" and reader.read(10) == b""
    assert reader.get_requests == 0


def test_missing_object_raises_the_client_404(s3: Any) -> None:
    with pytest.raises(ClientError) as raised:
        S3SeekableReader(s3, BUCKET, "uploads/j/nothing.wav")
    assert raised.value.response["Error"]["Code"] in ("404", "NoSuchKey")


# ---------------------------------------------------------------- memory


def test_memory_held_is_the_block_and_its_read_aheads_and_bodies_are_read_in_chunks(s3: Any) -> None:
    block = 128 * KiB
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal((48_000 * 12, 1)) * 0.1).astype(np.float32)  # ~1.1 MB as PCM_16
    wav = io.BytesIO()
    sf.write(wav, audio, 48_000, format="WAV", subtype="PCM_16")
    put(s3, "uploads/j/mem.wav", wav.getvalue())

    piece_sizes: list[int] = []
    real_get_object = s3.get_object

    def get_object(**kwargs: Any) -> dict[str, Any]:
        response = real_get_object(**kwargs)
        body = response["Body"]
        real_read = body.read

        def read(amt: int | None = None) -> bytes:
            piece = real_read(amt)
            piece_sizes.append(len(piece))
            return piece

        body.read = read
        return response

    s3.get_object = get_object
    tracemalloc.start()
    try:
        reader = S3SeekableReader(s3, BUCKET, "uploads/j/mem.wav", block_size=block)
        with sf.SoundFile(reader) as sound:
            frames = 0
            while len(chunk := sound.read(4096, dtype="float32")):
                frames += len(chunk)
        held = sum(
            stat.size
            for stat in tracemalloc.take_snapshot()
            .filter_traces([tracemalloc.Filter(True, s3io.__file__)])
            .statistics("filename")
        )
    finally:
        tracemalloc.stop()
    assert frames == len(audio)
    assert reader.bytes_fetched >= wav.getbuffer().nbytes
    # What the reader keeps alive is its block and the two read-aheads' (plus a little bookkeeping) ...
    assert 3 * block <= held <= 3 * block + 16 * KiB
    assert reader.memory_budget_bytes == 3 * (block + CHUNK_SIZE)
    # ... and each response body is pulled in pieces of at most CHUNK_SIZE, never whole.
    assert piece_sizes and max(piece_sizes) <= CHUNK_SIZE


# ---------------------------------------------------------------- soundfile through the reader

FORMATS = [
    ("WAV", "PCM_16", "wav"),
    ("FLAC", "PCM_24", "flac"),
    ("OGG", "VORBIS", "ogg"),
    ("MP3", "MPEG_LAYER_III", "mp3"),
]


@pytest.mark.parametrize(("fmt", "subtype", "ext"), FORMATS, ids=[f[0] for f in FORMATS])
def test_soundfile_decodes_through_the_reader(s3: Any, fmt: str, subtype: str, ext: str) -> None:
    if subtype not in sf.available_subtypes(fmt):
        pytest.skip(f"this libsndfile cannot write {fmt}/{subtype}")
    sample_rate = 48_000
    t = np.arange(sample_rate * 4) / sample_rate
    rng = np.random.default_rng(11)
    audio = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 97 * t)], axis=1)
    audio = (audio + 0.01 * rng.standard_normal(audio.shape)).astype(np.float32)
    encoded = io.BytesIO()
    sf.write(encoded, audio, sample_rate, format=fmt, subtype=subtype)
    key = f"uploads/j/tone.{ext}"
    put(s3, key, encoded.getvalue())

    reader = S3SeekableReader(s3, BUCKET, key, block_size=32 * KiB)  # many block boundaries
    with sf.SoundFile(reader) as through_s3, sf.SoundFile(io.BytesIO(encoded.getvalue())) as local:
        assert (through_s3.samplerate, through_s3.channels, through_s3.format) == (sample_rate, 2, fmt)
        assert through_s3.frames == local.frames
        decoded = through_s3.read(dtype="float32")
        assert np.array_equal(decoded, local.read(dtype="float32"))
        # Random access in the decoder (seek tables, re-sync) works through ranged GETs.
        middle = through_s3.frames // 2
        through_s3.seek(middle)
        local.seek(middle)
        assert np.array_equal(through_s3.read(2000, dtype="float32"), local.read(2000, dtype="float32"))
    if fmt in ("WAV", "FLAC"):  # lossless: the samples themselves survived
        assert np.allclose(decoded, audio, atol=1e-3)
    assert reader.error is None


def test_real_recording_decodes_identically(s3: Any) -> None:
    put(s3, "uploads/j/real.wav", REAL_RECORDING.read_bytes())
    reader = S3SeekableReader(s3, BUCKET, "uploads/j/real.wav", block_size=1024 * KiB)
    through_s3, sample_rate = sf.read(reader, dtype="int16", always_2d=True)
    local, local_rate = sf.read(REAL_RECORDING, dtype="int16", always_2d=True)
    assert sample_rate == local_rate and np.array_equal(through_s3, local)
    assert reader.get_requests <= math.ceil(REAL_RECORDING.stat().st_size / (1024 * KiB)) + 2


# ---------------------------------------------------------------- failures


class FlakyS3:
    """Real moto client whose GetObject bodies break as scripted: 'short' ends the body
    early, 'stream' raises botocore's ResponseStreamingError mid-body, 'ok' is untouched."""

    def __init__(self, client: Any, script: list[str], default: str = "ok") -> None:
        self.client, self.script, self.default = client, list(script), default

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        return self.client.head_object(**kwargs)

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        response = self.client.get_object(**kwargs)
        fault = self.script.pop(0) if self.script else self.default
        if fault == "ok":
            return response
        body = response["Body"]
        delivered = 0

        class Broken:
            def read(self, amt: int | None = None) -> bytes:
                nonlocal delivered
                if delivered >= 1000:
                    if fault == "short":
                        return b""
                    raise ResponseStreamingError(error="connection reset by peer")
                piece = body.read(min(amt or 1000, 1000 - delivered))
                delivered += len(piece)
                return piece

            def close(self) -> None:
                body.close()

        return {**response, "Body": Broken()}


def test_broken_bodies_are_retried(s3: Any) -> None:
    data = os.urandom(200 * KiB)
    put(s3, "uploads/j/flaky.bin", data)
    sleeps = NoSleep()
    reader = S3SeekableReader(
        FlakyS3(s3, ["short", "stream", "ok"]), BUCKET, "uploads/j/flaky.bin", block_size=64 * KiB, sleep=sleeps
    )
    assert reader.read() == data
    assert reader.get_requests == 2 + math.ceil(len(data) / (64 * KiB))
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 0.5
    assert reader.error is None


def test_exhausted_retries_raise_and_stay_failed(s3: Any) -> None:
    put(s3, "uploads/j/dead.bin", os.urandom(100 * KiB))
    reader = S3SeekableReader(
        FlakyS3(s3, [], default="stream"), BUCKET, "uploads/j/dead.bin", block_size=64 * KiB, max_attempts=3, sleep=NoSleep()
    )
    with pytest.raises(S3ReadError, match="failed 3 times") as raised:
        reader.read(10)
    assert reader.error is raised.value and reader.get_requests == 3
    with pytest.raises(S3ReadError):  # sticky: a decoder cannot read past the hole
        reader.read(10)
    with pytest.raises(S3ReadError):
        reader.raise_if_failed()


def test_object_replaced_while_reading_is_detected(s3: Any) -> None:
    block = 64 * KiB
    put(s3, "uploads/j/swap.bin", os.urandom(4 * block))
    reader = S3SeekableReader(s3, BUCKET, "uploads/j/swap.bin", block_size=block)
    reader.read(10)
    put(s3, "uploads/j/swap.bin", os.urandom(4 * block))
    reader.seek(3 * block)
    with pytest.raises(S3ObjectChangedError, match="changed"):
        reader.read(10)
    assert isinstance(reader.error, S3ObjectChangedError)


def test_object_deleted_while_reading_is_a_read_error(s3: Any) -> None:
    put(s3, "uploads/j/gone.bin", os.urandom(400 * KiB))
    reader = S3SeekableReader(s3, BUCKET, "uploads/j/gone.bin", block_size=64 * KiB)
    reader.read(10)  # blocks 1 and 2 may be read ahead before the delete: they would still serve
    s3.delete_object(Bucket=BUCKET, Key="uploads/j/gone.bin")
    reader.seek(350 * KiB)  # block 5: fetched after the delete
    with pytest.raises(S3ReadError):
        reader.read(10)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # cffi prints it
def test_soundfile_swallows_read_errors_so_callers_must_check(s3: Any) -> None:
    """Documents the hazard the module docstring describes: an S3 failure inside
    libsndfile's read callback looks like end-of-file to the decoder; ``raise_if_failed``
    is how the worker tells a truncated decode from a short recording."""
    audio = np.zeros((48_000 * 3, 1), dtype=np.float32)
    encoded = io.BytesIO()
    sf.write(encoded, audio, 48_000, format="WAV", subtype="PCM_16")
    put(s3, "uploads/j/cut.wav", encoded.getvalue())
    flaky = FlakyS3(s3, ["ok"], default="stream")  # first block fine, every later GET breaks
    reader = S3SeekableReader(flaky, BUCKET, "uploads/j/cut.wav", block_size=64 * KiB, max_attempts=2, sleep=NoSleep())
    with sf.SoundFile(reader) as sound:
        decoded = sound.read(dtype="float32")
    assert len(decoded) < len(audio)  # no exception reached us: the decode just stopped
    with pytest.raises(S3ReadError):
        reader.raise_if_failed()
