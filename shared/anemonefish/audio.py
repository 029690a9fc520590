"""Decode any recording soundfile reads, one channel, resampled to the model's rate, in blocks.

Memory stays bounded whatever the file's length: one block of decoded frames and the
resampler's filter state are all that is held. ``source`` may be a path or a seekable
binary file object (the worker passes a ranged-read S3 object).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from anemonefish.exceptions import (
    CorruptAudioError,
    EmptyAudioError,
    InvalidChannelError,
    UnsupportedAudioError,
)
from anemonefish.native import NativeStderrCapture, native_stderr_silenced
from anemonefish.riff import FileWindow, find_data_chunk, wav_format_tag

AudioSource = str | os.PathLike[str] | BinaryIO

# File name endings of the formats libsndfile reads, for finding recordings in folders
# (a file named directly is tried whatever its name).
AUDIO_SUFFIXES = frozenset({
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".snd", ".w64", ".rf64", ".caf",
})

# Decoding this many seconds at a time keeps per-call overhead low (a 1-hour file is 180
# blocks) while a 48 kHz 8-channel block is still only ~31 MB of float32.
DEFAULT_BLOCK_S = 20.0
# libsndfile reads whole frames (every channel), so a block also holds at most this many
# samples: a 64-channel 96 kHz array recording reads 1.3 s blocks, not 20 s ones (490 MB).
MAX_BLOCK_SAMPLES = 8_000_000

# libsndfile's error numbers (sndfile.h): it tells a format it does not know from a
# known format with broken contents.
_SF_ERR_UNRECOGNISED_FORMAT = 1
_SF_ERR_MALFORMED_FILE = 3
_SF_ERR_UNSUPPORTED_ENCODING = 4


@dataclass(frozen=True)
class AudioInfo:
    """What the recording is, as decoded."""

    filename: str
    duration_s: float
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str
    channel: int = 0
    # The frames the header declares, when they are not what was read: more (a half-copied
    # file, which libsndfile reads as far as it goes without a word), or fewer (a WAV header
    # never finished, or its size wrapped past 4 GiB: read to its true end; see riff.py).
    declared_frames: int | None = None
    # Bytes after a WAV's declared audio that are not chunks (audio, probably) and were not read.
    unread_bytes: int | None = None
    # Why decoding stopped before the end (a damaged frame): what came before was analysed.
    decode_error: str | None = None
    # Damaged MP3 frames the decoder resynchronised past, and the bytes it skipped there.
    resyncs: int | None = None
    skipped_bytes: int | None = None
    # The file's SHA-256, when the pipeline checked its upload against one: which file, of
    # several of one name (two recorders' 20240101_000000.wav), the results are of.
    sha256: str | None = None

    @property
    def truncated(self) -> bool:
        return self.declared_frames is not None and self.declared_frames > self.frames

    def as_document(self) -> dict[str, object]:
        """The ``audio`` object of the result document."""
        document: dict[str, object] = {
            "filename": self.filename,
            "duration_s": round(self.duration_s, 6),
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "channel_analysed": self.channel,
            "format": self.format,
            "subtype": self.subtype,
        }
        if self.declared_frames is not None:
            document["declared_duration_s"] = round(self.declared_frames / self.sample_rate, 6)
        if self.unread_bytes is not None:
            document["unread_bytes"] = self.unread_bytes
        if self.decode_error is not None:
            document["decode_error"] = self.decode_error
        if self.resyncs is not None:
            document["resyncs"] = self.resyncs
            document["skipped_bytes"] = self.skipped_bytes
        if self.sha256 is not None:
            document["sha256"] = self.sha256
        return document

    def resync_warning(self) -> str | None:
        """One line saying the decoder skipped damaged frames, or None."""
        if self.resyncs is None:
            return None
        return (f"{self.filename}: damaged MP3 frames: the decoder skipped {self.skipped_bytes} bytes in "
                f"{self.resyncs} place(s) and went on; the audio of the frames lost there is missing, so the times "
                f"of events after each place come early by up to that much")

    def length_warning(self) -> str | None:
        """One line saying the file's length is not what its header says, or None."""
        if self.decode_error is not None:
            of = f" of {self.declared_frames / self.sample_rate:.1f} s" if self.declared_frames else ""
            return (f"{self.filename}: decoding failed after {self.duration_s:.1f} s{of} "
                    f"({self.decode_error.removeprefix(self.filename + ': ')}); what was decoded was analysed")
        if self.unread_bytes is not None:
            return (f"{self.filename}: {self.unread_bytes} bytes follow the {self.duration_s:.1f} s of audio its header "
                    f"declares and are not chunks (more audio, about {self._seconds_of(self.unread_bytes):.1f} s, "
                    f"after a damaged header?); only the declared {self.duration_s:.1f} s were analysed")
        if self.declared_frames is None:
            return None
        declared = self.declared_frames / self.sample_rate
        if self.declared_frames < self.frames:
            why = "a header never finished" if self.declared_frames == 0 else "a size that wrapped past 4 GiB"
            return (f"{self.filename}: its header declares {declared:.1f} s of audio but the file holds "
                    f"{self.duration_s:.1f} s ({why}, as a recorder that stopped early or a writer without RF64 "
                    f"leaves); all of it was analysed")
        if self.format == "MP3":  # libsndfile's estimate from its size: a large tag or a varying bit rate also makes it long
            return (f"{self.filename}: decoding ended after {self.duration_s:.1f} s, short of the {declared:.1f} s its "
                    f"size suggests (a truncated copy, or a large tag or varying bit rate); what was decoded was analysed")
        return (f"{self.filename}: its header declares {declared:.1f} s of audio but "
                f"the file ends after {self.duration_s:.1f} s (a truncated copy?); what is there was analysed")

    def _seconds_of(self, size: int) -> float:
        frame_bytes = SAMPLE_BYTES[self.subtype] * self.channels  # set only for these subtypes (_past_the_header)
        return size / frame_bytes / self.sample_rate


def display_name(path: str | os.PathLike[str]) -> str:
    """A path's file name as text: a name that is not UTF-8 (an old Latin-1 disk) reaches Python
    with stand-ins for its bytes, which no UTF-8 document can hold; they become U+FFFD."""
    return os.fsencode(Path(path).name).decode("utf-8", "replace")


def _source_name(source: AudioSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return display_name(source)
    return str(getattr(source, "name", "") or "<stream>")


def _check_not_empty(source: AudioSource, name: str) -> None:
    if isinstance(source, (str, os.PathLike)):
        status = os.stat(source)  # FileNotFoundError propagates: not an audio problem
        if not stat.S_ISREG(status.st_mode):  # a pipe or a device reads as 0 bytes, and cannot seek
            raise UnsupportedAudioError(f"{name}: not a regular file (a pipe or a device?); "
                                        "save the recording to a file and analyse that")
        if status.st_size == 0:
            raise EmptyAudioError(f"{name}: the file is empty (0 bytes)")
        return
    position = source.tell()
    source.seek(0, os.SEEK_END)
    size = source.tell()
    source.seek(position)
    if size == 0:
        raise EmptyAudioError(f"{name}: the file is empty (0 bytes)")


def _translate(exc: Exception, name: str, source: AudioSource | None = None) -> Exception:
    code = getattr(exc, "code", None)
    # libsndfile's own words: soundfile's str() adds "Error opening <the file object ...>:",
    # which would put a Python object's repr into a job's error.
    message = getattr(exc, "error_string", None) or str(exc)
    if code == _SF_ERR_UNRECOGNISED_FORMAT or "not recognised" in message.lower():
        return UnsupportedAudioError(f"{name}: not a recognised audio format")
    is_path = isinstance(source, (str, os.PathLike))
    if "does not exist" in message and (not is_path or os.path.isfile(source)):  # type: ignore[arg-type]
        # What libsndfile says when its MP3 decoder finds no frame in a file named .mp3 (or
        # in any file object: it exists, being open)
        return UnsupportedAudioError(f"{name}: not a recognised audio format (no valid audio data in it)")
    if code == _SF_ERR_UNSUPPORTED_ENCODING:
        return UnsupportedAudioError(f"{name}: unsupported audio encoding ({message})")
    if (tag := _foreign_wav_tag(source)) is not None:
        # libsndfile calls a fmt chunk it has no decoder for "malformed": the file may be fine
        return UnsupportedAudioError(
            f"{name}: a WAV in an encoding this reader has no decoder for (format tag 0x{tag:04X}; "
            f"it reads PCM, float, mu-law, A-law, ADPCM, GSM 6.10 and MP3); convert it to PCM WAV or FLAC")
    if "unimplemented format" in message:
        return UnsupportedAudioError(f"{name}: unsupported audio encoding ({message})")
    if code == _SF_ERR_MALFORMED_FILE:
        return CorruptAudioError(f"{name}: malformed audio file ({message})")
    if "SF_INFO struct incomplete" in message:  # libsndfile's words for a header with no usable rate or layout
        return CorruptAudioError(f"{name}: the header gives no usable sample rate, channel count or sample format")
    return CorruptAudioError(f"{name}: cannot decode audio ({message})")


# WAV format tags libsndfile decodes (its wav.c): PCM, MS ADPCM, float, A-law, mu-law, IMA ADPCM,
# GSM 6.10, G.721, MPEG layer III, IBM mu-law and A-law; an extensible fmt chunk's sub-format
# counts by its tag. 0xFFFE itself stands for an extensible chunk too short to name one.
_DECODABLE_WAV_TAGS = frozenset({0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0x0040, 0x0055,
                                 0x0101, 0x0102, 0xFFFE})


def _byte_stream(source: AudioSource, cleanup: contextlib.ExitStack) -> BinaryIO:
    """``source`` as a binary stream for reading its RIFF chunks: a path opened (and closed by
    ``cleanup``), a file object as it is."""
    if isinstance(source, (str, os.PathLike)):
        return cleanup.enter_context(open(source, "rb"))
    return source


def _foreign_wav_tag(source: AudioSource | None) -> int | None:
    """A RIFF WAV's format tag when libsndfile has no decoder for it, else None."""
    if source is None:
        return None
    try:
        with contextlib.ExitStack() as cleanup:
            tag = wav_format_tag(_byte_stream(source, cleanup))
    except OSError:
        return None
    # Tag 0 (WAVE_FORMAT_UNKNOWN) is in practice a zeroed header: damage, not an encoding.
    return tag if tag and tag not in _DECODABLE_WAV_TAGS else None


@dataclass
class OpenedAudio:
    """An open decoder and what the header said, which a re-opened one no longer tells."""

    handle: sf.SoundFile
    name: str
    format: str
    subtype: str
    declared_frames: int | None = None
    unread_bytes: int | None = None


def open_audio(source: AudioSource) -> OpenedAudio:
    """Open ``source`` for reading, turning decoder errors into :class:`AudioError`."""
    name = _source_name(source)
    _check_not_empty(source, name)
    # A path goes to libsndfile as bytes: a name that is not UTF-8 (an old Latin-1 disk)
    # would fail soundfile's own encoding to UTF-8.
    target = os.fsencode(source) if isinstance(source, (str, os.PathLike)) else source
    try:
        with native_stderr_silenced():  # libmpg123 prints its resync notes while probing
            handle = sf.SoundFile(target)
    except sf.LibsndfileError as exc:
        raise _translate(exc, name, source) from exc
    except (RuntimeError, TypeError, ValueError) as exc:
        raise CorruptAudioError(f"{name}: cannot decode audio ({exc})") from exc
    opened = OpenedAudio(handle, name, handle.format, handle.subtype, declared_frames=_declared_frames(handle))
    if handle.subtype in SAMPLE_BYTES and (past := _PAST_THE_AUDIO_CHUNK.search(handle.extra_info)):
        opened = _past_the_header(opened, source, unread_said=past.group(1) is not None)
    if opened.handle.frames == 0 or opened.handle.samplerate <= 0:
        opened.handle.close()
        raise EmptyAudioError(f"{name}: the recording has no samples")
    return opened


# libsndfile's log where a WAV's audio chunk is followed by bytes that are no chunk (group 1:
# more audio, probably), by zeros (silence, or padding), or where the file is longer than a
# RIFF's sizes can say: signs that the header declares less audio than there is (riff.py).
_PAST_THE_AUDIO_CHUNK = re.compile(r"(Unknown chunk marker)|Have 0 marker|filelength > 0xffffffff")


def _past_the_header(opened: OpenedAudio, source: AudioSource, *, unread_said: bool) -> OpenedAudio:
    """A WAV whose header declares less audio than follows it: re-opened to read all of it
    when the mistake is a known one (riff.DataChunk.recoverable_bytes); else, when what
    follows is no chunk and not zeros, the bytes left unread are noted."""
    handle = opened.handle
    if handle.format not in ("WAV", "WAVEX"):
        return opened
    with contextlib.ExitStack() as cleanup:
        stream = _byte_stream(source, cleanup)
        chunk = find_data_chunk(stream)
        frame_bytes = SAMPLE_BYTES[handle.subtype] * handle.channels
        if chunk is None or chunk.block_align != frame_bytes or chunk.declared_bytes in _UNKNOWN_SIZES:
            return opened
        size = chunk.recoverable_bytes()
        if size is None:
            unread = chunk.available_bytes - chunk.declared_bytes
            return replace(opened, unread_bytes=unread) if unread_said and unread > 0 else opened
        try:
            raw = sf.SoundFile(FileWindow(stream, chunk.offset, size), format="RAW", samplerate=handle.samplerate,
                               channels=handle.channels, subtype=handle.subtype, endian="LITTLE")
        except (sf.LibsndfileError, RuntimeError, ValueError):
            return opened
        handle.close()
        weakref.finalize(raw, cleanup.pop_all().close)  # the file stays open as long as its decoder
        return replace(opened, handle=raw, declared_frames=chunk.declared_bytes // frame_bytes)


def probe_audio(source: AudioSource, channel: int = 0) -> AudioInfo:
    """Read the header only."""
    opened = open_audio(source)
    with opened.handle:
        return _info(opened, channel)


def _info(opened: OpenedAudio, channel: int) -> AudioInfo:
    handle, name = opened.handle, opened.name
    if not 0 <= channel < handle.channels:
        raise InvalidChannelError(
            f"{name}: channel {channel} requested but the recording has {handle.channels} "
            f"channel(s) (channels are numbered from 0)"
        )
    return AudioInfo(
        filename=name,
        duration_s=handle.frames / handle.samplerate,
        sample_rate=handle.samplerate,
        channels=handle.channels,
        frames=handle.frames,
        format=opened.format,
        subtype=opened.subtype,
        channel=channel,
        declared_frames=opened.declared_frames,
        unread_bytes=opened.unread_bytes,
    )


# Sizes as a file's header gives them and as the file bears them, from libsndfile's log: the
# only place it tells of a file cut short, whose frames it silently clamps to what is there.
# WAV and AIFF log their audio chunk's ("data", "SSND"), so metadata after the audio (LIST,
# iXML, GUANO) neither counts as audio nor, cut, as a cut; RF64 and W64 log only the
# container's ("Riff size", "riff").
_AUDIO_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_CONTAINER_SIZE = re.compile(r"^\s*(?:Riff size|riff)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# What streaming writers put where they do not know the length yet (SoX's 0x7ffff000, all ones).
_UNKNOWN_SIZES = frozenset({0x7FFFF000, 0x7FFFFFFF, 0xFFFFFFFF, 2**64 - 1})
SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "ULAW": 1, "ALAW": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4,
                "FLOAT": 4, "DOUBLE": 8}


def _declared_frames(handle: sf.SoundFile) -> int | None:
    """The frames an uncompressed file's header declares, when the file holds fewer."""
    sample_bytes = SAMPLE_BYTES.get(handle.subtype)
    if sample_bytes is None:
        return None
    frame_bytes = sample_bytes * handle.channels
    if handle.format in ("WAV", "WAVEX", "AIFF"):
        found = _AUDIO_CHUNK.search(handle.extra_info)
        if found is None or int(found.group(2)) in _UNKNOWN_SIZES:
            return None
        # An SSND chunk's size counts its 8 bytes of offset and block size before the audio.
        declared = (int(found.group(2)) - (8 if found.group(1) == "SSND" else 0)) // frame_bytes
        return declared if declared > handle.frames else None
    if handle.format in ("RF64", "W64"):
        found = _CONTAINER_SIZE.search(handle.extra_info)
        if found is None or int(found.group(1)) in _UNKNOWN_SIZES:
            return None
        missing_frames = (int(found.group(1)) - int(found.group(2))) // frame_bytes
        return handle.frames + missing_frames if missing_frames > 0 else None
    return None


def stream_audio(
    source: AudioSource,
    target_sr: int,
    channel: int = 0,
    block_s: float = DEFAULT_BLOCK_S,
) -> tuple[AudioInfo, DecodedBlocks]:
    """Open ``source`` and return its info plus its float32 mono blocks at ``target_sr``.

    The header is read eagerly, so a file that is not audio fails here, before any work.
    The resampler is a single soxr stream, so block edges leave no seams.
    """
    opened = open_audio(source)
    try:
        info = _info(opened, channel)
    except Exception:
        opened.handle.close()
        raise
    return info, DecodedBlocks(opened.handle, info, target_sr, block_s)


# Float samples are nominally within +-1; some tools write int-scaled floats (+-32768 or
# +-2**31). Far beyond that, a file is corrupt, and its spectrogram power would overflow.
MAX_FLOAT_SAMPLE = 1e12

# Integer PCM is read in its own width and scaled here: libsndfile's conversion to float
# costs ~7x the read itself (0.35 s vs 0.05 s for an hour of 48 kHz 16-bit audio) and
# converts every channel, where only one is kept. The scale is libsndfile's own, so the
# samples are bit-identical to ``read(dtype="float32")``.
_INTEGER_READS: dict[str, tuple[str, float]] = {
    "PCM_16": ("int16", 1.0 / 32768.0),
    "PCM_24": ("int32", 1.0 / 2147483648.0),  # libsndfile left-aligns 24-bit in int32
}


def _read_channel(handle: sf.SoundFile, frames: int, info: AudioInfo) -> np.ndarray:
    """Up to ``frames`` float32 samples of the chosen channel."""
    channel = info.channel
    integer = _INTEGER_READS.get(info.subtype)
    if integer is None:
        block = handle.read(frames, dtype="float32", always_2d=True)
        mono = np.ascontiguousarray(block[:, channel])
        # NaN/inf in float WAVs would poison every window after them, and so would samples so
        # large that a frame's float32 power overflows (|x| ~ 1e17 and up). One max() tests all.
        peak = max(float(mono.max()), -float(mono.min())) if mono.size else 0.0  # no |x| copy; NaN stays NaN
        if not peak <= MAX_FLOAT_SAMPLE:
            what = "NaN or infinite samples" if not np.isfinite(peak) else f"samples as large as {peak:.3g}"
            raise CorruptAudioError(
                f"{info.filename}: the audio contains {what} (float audio lies within about +-1; "
                f"beyond +-{MAX_FLOAT_SAMPLE:g} it is not sound)"
            )
        return mono
    dtype, scale = integer
    block = handle.read(frames, dtype=dtype, always_2d=True)
    mono = block[:, channel].astype(np.float32)
    mono *= np.float32(scale)
    return mono


class DecodedBlocks:
    """A recording's blocks of float32 mono samples at ``target_sr``, read once.

    Decoding that fails after some audio came (a damaged frame in a FLAC or an MP3) ends the
    blocks there instead of losing everything before it: ``damage`` then holds the error,
    and the caller decides whether what came is enough (detection says so and analyses it;
    training data is refused). Failing before any audio raises, as does a float sample
    that is not sound.
    """

    def __init__(self, handle: sf.SoundFile, info: AudioInfo, target_sr: int, block_s: float) -> None:
        self._handle, self._info, self._target_sr, self._block_s = handle, info, target_sr, block_s
        self.damage: CorruptAudioError | None = None
        # An MP3 decoder that met damaged frames and resynchronised past them (libmpg123's
        # notes on stderr are all it says): the audio went on, minus what it skipped.
        self.resyncs = 0
        self.skipped_bytes = 0
        self._decoder_error: str | None = None  # libmpg123's own reason, when it gave up
        self._last_skip = 0

    def raise_if_damaged(self) -> None:
        """After the blocks: for callers that need the whole recording or nothing."""
        if self.damage is not None:
            raise self.damage
        if self.resyncs:  # the audio went on, but every time after the first skip is early
            raise CorruptAudioError(f"{self._info.filename}: damaged MP3 frames: the decoder skipped "
                                    f"{self.skipped_bytes} bytes in {self.resyncs} place(s)")

    def __iter__(self) -> Iterator[np.ndarray]:
        info = self._info
        block_frames = max(1, min(int(self._block_s * info.sample_rate), MAX_BLOCK_SAMPLES // info.channels))
        resampler = (
            soxr.ResampleStream(info.sample_rate, self._target_sr, 1, dtype="float32", quality="HQ")
            if info.sample_rate != self._target_sr
            else None
        )
        produced = 0
        notes = NativeStderrCapture() if info.format == "MP3" else None
        with self._handle as handle, contextlib.ExitStack() as cleanup:
            if notes is not None:
                cleanup.callback(notes.close)
            while True:
                try:
                    mono = self._read(handle, block_frames, notes)
                    last = len(mono) < block_frames
                except (sf.LibsndfileError, RuntimeError) as exc:  # mpg123 and friends report mid-stream damage so
                    error = (_translate(exc, info.filename) if isinstance(exc, sf.LibsndfileError)
                             else CorruptAudioError(f"{info.filename}: cannot decode audio ({exc})"))
                    if self._decoder_error is not None and isinstance(error, CorruptAudioError):
                        # libsndfile's "Unspecified internal error." says less than libmpg123 did
                        error = CorruptAudioError(f"{info.filename}: cannot decode audio (libmpg123: {self._decoder_error})")
                    if produced == 0 or not isinstance(error, CorruptAudioError):
                        raise error from exc
                    self.damage = error
                    mono, last = np.zeros(0, np.float32), True  # flush the resampler: the audio so far is whole
                out = mono if resampler is None else resampler.resample_chunk(mono, last=last)
                produced += len(mono)
                if len(out):
                    yield out
                if last:
                    break
        if produced == 0:
            raise EmptyAudioError(f"{info.filename}: the recording has no samples")

    def _read(self, handle: sf.SoundFile, frames: int, notes: NativeStderrCapture | None) -> np.ndarray:
        if notes is None:
            return _read_channel(handle, frames, self._info)
        try:
            with notes:
                return _read_channel(handle, frames, self._info)
        finally:
            self._take_decoder_notes(notes.captured)

    def _take_decoder_notes(self, text: bytes) -> None:
        """Count libmpg123's resyncs and skipped bytes; anything else goes on to stderr."""
        others = []
        for line in text.splitlines(keepends=True):
            if not _MPG123_NOTE.match(line):
                others.append(line)
                continue
            self.resyncs += line.startswith(b"Note: Trying to resync")
            if skipped := _MPG123_SKIPPED.match(line):
                self._last_skip = int(skipped.group(1))
                self.skipped_bytes += self._last_skip
            if error := _MPG123_ERROR.match(line):
                # its reason without the advice to the programmer ("- your stream is not nice...")
                self._decoder_error = error.group(1).decode("utf-8", "replace").split(" - ")[0].strip()
                if self._decoder_error.startswith("Giving up resync"):  # that resync ended decoding: not skipped past
                    self.resyncs, self.skipped_bytes = self.resyncs - 1, self.skipped_bytes - self._last_skip
        NativeStderrCapture.release(b"".join(others))


# libmpg123's lines on stderr ("Note: Skipped 240 bytes in input.", "[src/libmpg123/parse.c:
# wetwork():1349] error: Giving up resync after 1024 bytes ..."), told from anything else there.
_MPG123_NOTE = re.compile(rb"(?:Note|Warning): |\[[^\]\n]*mpg123[^\]\n]*\] (?:error|warning|note): ")
_MPG123_SKIPPED = re.compile(rb"Note: Skipped (\d+) bytes in input")
_MPG123_ERROR = re.compile(rb"\[[^\]\n]*mpg123[^\]\n]*\] error: (.*)")


class CountedBlocks:
    """Passes blocks through and counts their samples (progress, and the length streamed)."""

    def __init__(self, blocks: Iterator[np.ndarray]) -> None:
        self._blocks = blocks
        self.samples = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self._blocks:
            self.samples += len(block)
            yield block


def read_audio(source: AudioSource, target_sr: int, channel: int = 0) -> tuple[AudioInfo, np.ndarray]:
    """The whole recording at ``target_sr`` in memory (training and tests on short clips)."""
    info, blocks = stream_audio(source, target_sr, channel)
    parts = list(blocks)
    blocks.raise_if_damaged()  # training on part of a labelled recording would mislabel the rest
    return info, (np.concatenate(parts) if parts else np.zeros(0, np.float32))
