"""Decoding: every format soundfile reads, any rate, one channel, streamed, with clear errors."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from anemonefish.audio import probe_audio, read_audio, stream_audio
from anemonefish.exceptions import (
    AudioError,
    CorruptAudioError,
    EmptyAudioError,
    InvalidChannelError,
    UnsupportedAudioError,
)
from support import write_tone_wav


@pytest.mark.parametrize(
    ("fmt", "subtype", "suffix"),
    [
        ("WAV", "PCM_U8", "wav"),
        ("WAV", "PCM_16", "wav"),
        ("WAV", "PCM_24", "wav"),
        ("WAV", "PCM_32", "wav"),
        ("WAV", "FLOAT", "wav"),
        ("FLAC", "PCM_16", "flac"),
        ("OGG", "VORBIS", "ogg"),
        ("MP3", "MPEG_LAYER_III", "mp3"),
    ],
)
def test_decodes_formats_and_resamples_to_model_rate(tmp_path: Path, fmt: str, subtype: str, suffix: str) -> None:
    path = write_tone_wav(tmp_path / f"clip.{suffix}", 3.0, sr=44100, subtype=subtype, fmt=fmt)
    info, signal = read_audio(path, 6400)
    assert info.sample_rate == 44100
    assert info.format == fmt
    assert abs(len(signal) - 3.0 * 6400) <= 6400 * 0.1  # lossy codecs pad a little
    # the 600 Hz tone survives decoding and resampling in every format
    spectrum = np.abs(np.fft.rfft(signal[1000:13800]))
    peak_hz = np.argmax(spectrum) * 6400 / 12800
    assert abs(peak_hz - 600) < 2


def test_stream_equals_one_shot_resample(tmp_path: Path) -> None:
    path = write_tone_wav(tmp_path / "a.wav", 9.3, sr=32000, subtype="PCM_24")
    reference, sr = sf.read(path, dtype="float32")
    expected = soxr.resample(reference, sr, 6400, quality="HQ")
    _, blocks = stream_audio(path, 6400, block_s=0.77)
    streamed = np.concatenate(list(blocks))
    assert len(streamed) == len(expected)
    np.testing.assert_allclose(streamed, expected, atol=1e-4)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_samples_equal_libsndfile_float_decoding(tmp_path: Path, subtype: str) -> None:
    """Integer PCM is read as integers and scaled by hand: it must equal libsndfile's floats."""
    rng = np.random.default_rng(3)
    path = tmp_path / f"three_{subtype}.wav"
    sf.write(path, rng.uniform(-1, 1, (20011, 3)), 6400, subtype=subtype)
    reference = sf.read(path, dtype="float32", always_2d=True)[0]
    for channel in (0, 2):
        _, blocks = stream_audio(path, 6400, channel=channel, block_s=0.5)
        np.testing.assert_array_equal(np.concatenate(list(blocks)), reference[:, channel])


def test_selects_channel_of_multichannel_file(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    t = np.arange(16000 * 2) / 16000
    left = 0.3 * np.sin(2 * np.pi * 500 * t)
    right = 0.3 * np.sin(2 * np.pi * 900 * t)
    sf.write(path, np.stack([left, right], axis=1), 16000)
    for channel, hz in ((0, 500), (1, 900)):
        info, x = read_audio(path, 6400, channel=channel)
        assert info.channels == 2 and info.channel == channel
        assert abs(np.argmax(np.abs(np.fft.rfft(x))) * 6400 / len(x) - hz) < 2
    with pytest.raises(InvalidChannelError, match="channel 2 requested but the recording has 2"):
        stream_audio(path, 6400, channel=2)


def test_reads_from_seekable_file_object(tmp_path: Path) -> None:
    path = write_tone_wav(tmp_path / "b.flac", 2.0, sr=48000, fmt="FLAC")
    from_path = read_audio(path, 6400)[1]
    with open(path, "rb") as handle:
        info, from_object = read_audio(io.BytesIO(handle.read()), 6400)
    np.testing.assert_array_equal(from_path, from_object)
    assert info.duration_s == pytest.approx(2.0)


def test_empty_file_is_empty_audio(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="empty.wav: the file is empty"):
        probe_audio(empty)
    with pytest.raises(EmptyAudioError):
        probe_audio(io.BytesIO(b""))


def test_header_without_samples_is_empty_audio(tmp_path: Path) -> None:
    path = tmp_path / "nosamples.wav"
    sf.write(path, np.zeros((0,), np.float32), 8000)
    with pytest.raises(EmptyAudioError, match="no samples"):
        probe_audio(path)


def test_text_file_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("these are field notes, not audio\n" * 20)
    with pytest.raises(UnsupportedAudioError, match="notes.wav: not a recognised audio format"):
        stream_audio(path, 6400)


@pytest.mark.parametrize("content", [b"\x00" * 4096, b"ID3" + b"\x00" * 7 + b"not an mp3 frame" * 100])
def test_a_file_named_mp3_without_mp3_frames_is_one_clear_error_and_silent(
    tmp_path: Path, content: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    """libmpg123 prints resync notes to stderr itself, and libsndfile then says the file does not exist."""
    path = tmp_path / "fake.mp3"
    path.write_bytes(content)
    with pytest.raises(UnsupportedAudioError) as raised:
        probe_audio(path)
    assert str(raised.value).startswith("fake.mp3: not a recognised audio format")
    assert "does not exist" not in str(raised.value)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    ("content", "error", "reason"),
    [
        (b"\xff\xfb\x90\x64" + bytes(range(256)) * 400, UnsupportedAudioError, "not a recognised audio format"),
        # A WAV header that says it has no channels
        (b"RIFF" + (44).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little") + bytes.fromhex("0100 0000")
         + (48000).to_bytes(4, "little") + bytes(6) + (16).to_bytes(2, "little") + b"data" + (8).to_bytes(4, "little")
         + bytes(8), AudioError, "Channel count is zero"),
    ],
    ids=["mp3-junk", "no-channels"],
)
def test_a_file_object_that_is_not_audio_is_named_by_the_recordings_name_alone(
    content: bytes, error: type[Exception], reason: str
) -> None:
    """The worker decodes from an S3 reader: its errors must read as the file's, with no Python object in them."""
    source = io.BytesIO(content)
    source.name = "junk.mp3"
    with pytest.raises(error) as raised:
        probe_audio(source)
    message = str(raised.value)
    assert message.startswith("junk.mp3: ") and reason in message
    assert "<" not in message and "object at" not in message and "does not exist" not in message


def test_a_file_name_that_is_not_utf8_decodes(tmp_path: Path) -> None:
    """Old disks and other systems' tools leave Latin-1 names (here 'café.wav' in Latin-1)."""
    import os

    source = write_tone_wav(tmp_path / "plain.wav", 1.0)
    odd = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.wav"))
    source.rename(odd)
    info, audio = read_audio(odd, 6400)
    assert info.frames > 0 and len(audio) == 6400


def test_blocks_of_many_channel_files_hold_a_bounded_number_of_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """libsndfile reads every channel of a frame: a block's length shrinks with the channel count."""
    import anemonefish.audio as audio

    monkeypatch.setattr(audio, "MAX_BLOCK_SAMPLES", 8000 * 4 * 2)  # two seconds of this 4-channel file
    path = tmp_path / "array.wav"
    data = np.random.default_rng(9).uniform(-0.5, 0.5, (8000 * 7 + 5, 4)).astype(np.float32)
    sf.write(path, data, 8000, subtype="FLOAT")
    info, blocks = stream_audio(path, 8000, channel=3, block_s=20.0)
    lengths = [len(b) for b in blocks]
    assert max(lengths) == 16000 and len(lengths) == 4
    _, blocks = stream_audio(path, 8000, channel=3, block_s=20.0)
    np.testing.assert_array_equal(np.concatenate(list(blocks)), data[:, 3])


def test_damaged_header_is_corrupt_or_unsupported(tmp_path: Path) -> None:
    good = write_tone_wav(tmp_path / "good.wav", 1.0).read_bytes()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(good[:12] + b"\xff" * 40 + good[52:])  # RIFF/WAVE kept, fmt chunk destroyed
    with pytest.raises((CorruptAudioError, UnsupportedAudioError), match="broken.wav"):
        read_audio(broken, 6400)


def test_nan_samples_are_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    data = np.zeros(8000, np.float32)
    data[100] = np.nan
    sf.write(path, data, 8000, subtype="FLOAT")
    with pytest.raises(CorruptAudioError, match="NaN"):
        read_audio(path, 6400)


def test_absurdly_large_float_samples_are_corrupt_but_int_scaled_floats_are_sound(tmp_path: Path) -> None:
    # 1e20 overflowed the float32 power, and every score after it was NaN.
    huge = tmp_path / "huge.wav"
    data = np.zeros(8000, np.float32)
    data[100] = 1e20
    sf.write(huge, data, 8000, subtype="FLOAT")
    with pytest.raises(CorruptAudioError, match=r"huge.wav: the audio contains samples as large as 1e\+20"):
        read_audio(huge, 6400)
    # Some tools write floats on the integer scale: those are still sound.
    int_scaled = tmp_path / "int_scaled.wav"
    tone = (32767 * np.sin(np.arange(8000) * 0.3)).astype(np.float32)
    sf.write(int_scaled, tone, 8000, subtype="FLOAT")
    _, audio = read_audio(int_scaled, 8000)
    assert np.isfinite(audio).all() and np.abs(audio).max() > 30000


def test_missing_file_is_not_an_audio_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe_audio(tmp_path / "nope.wav")


def _peak_streaming_bytes(path: Path) -> int:
    tracemalloc.start()
    _, blocks = stream_audio(path, 6400, block_s=5.0)
    for _ in blocks:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_streaming_memory_does_not_grow_with_length(tmp_path: Path) -> None:
    short = write_tone_wav(tmp_path / "short.wav", 60, sr=16000)
    long = write_tone_wav(tmp_path / "long.wav", 600, sr=16000)
    peak_short, peak_long = _peak_streaming_bytes(short), _peak_streaming_bytes(long)
    # 10x the audio, yet the peak is set by the block size; a full read would be 38 MB
    assert peak_long < 1.5 * peak_short + 1_000_000
    assert peak_long < 10_000_000


@pytest.mark.parametrize(("fmt", "subtype", "channels"), [("WAV", "PCM_16", 1), ("WAV", "FLOAT", 2), ("RF64", "PCM_24", 1),
                                                          ("W64", "PCM_16", 2), ("AIFF", "PCM_16", 1)])
def test_a_file_cut_short_is_read_as_far_as_it_goes_and_says_what_its_header_declared(
    tmp_path: Path, fmt: str, subtype: str, channels: int
) -> None:
    """A half-copied recording: libsndfile reads what is there without a word, so the info says it."""
    rate = 8000
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros((10 * rate, channels), dtype=np.float32), rate, format=fmt, subtype=subtype)
    whole = buffer.getvalue()
    (tmp_path / "whole").write_bytes(whole)
    (tmp_path / "cut").write_bytes(whole[: len(whole) * 4 // 10])
    complete, cut = probe_audio(tmp_path / "whole"), probe_audio(tmp_path / "cut")
    assert not complete.truncated and "declared_duration_s" not in complete.as_document()
    assert cut.truncated and 3.9 < cut.duration_s < 4.0
    assert cut.as_document()["declared_duration_s"] == pytest.approx(10.0, abs=2 / rate)
    assert cut.length_warning() == (
        f"cut: its header declares 10.0 s of audio but the file ends after {cut.duration_s:.1f} s (a truncated copy?); "
        "what is there was analysed")


def test_a_streaming_writers_unknown_length_is_no_truncation(tmp_path: Path) -> None:
    """SoX writes 0x7ffff000 as the data size it does not know yet (RIFF: that plus 36)."""
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(8000, dtype=np.float32), 8000, format="WAV", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    assert data[36:40] == b"data"
    data[40:44] = (0x7FFFF000).to_bytes(4, "little")
    data[4:8] = (0x7FFFF000 + 36).to_bytes(4, "little")
    (tmp_path / "stream.wav").write_bytes(bytes(data))
    info = probe_audio(tmp_path / "stream.wav")
    assert info.frames == 8000 and not info.truncated


def _wav_whose_header_says(tmp_path: Path, name: str, data_bytes: int | None, riff_bytes: int | None = None,
                           seconds: float = 3.0, rate: int = 8000) -> tuple[Path, np.ndarray]:
    """A 16-bit mono WAV of noise whose data chunk (and RIFF) size is then set to what a broken writer leaves."""
    samples = (np.random.default_rng(7).standard_normal(int(seconds * rate)) * 3000).astype("<i2")
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    assert data[36:40] == b"data"
    if data_bytes is not None:
        data[40:44] = data_bytes.to_bytes(4, "little")
    if riff_bytes is not None:
        data[4:8] = riff_bytes.to_bytes(4, "little")
    (tmp_path / name).write_bytes(bytes(data))
    return tmp_path / name, samples.astype(np.float32) / 32768


@pytest.mark.parametrize("riff_bytes", [None, 36], ids=["riff-size-kept", "riff-size-unfinished-too"])
def test_a_wav_whose_header_was_never_finished_is_read_to_its_end(tmp_path: Path, riff_bytes: int | None) -> None:
    """A recorder that stopped (a flat battery) before writing its sizes leaves a data chunk of
    0 bytes over hours of audio: libsndfile reads no sample, and it was refused as empty."""
    path, samples = _wav_whose_header_says(tmp_path, "unfinished.wav", 0, riff_bytes)
    info, audio = read_audio(path, 8000)
    np.testing.assert_array_equal(audio, samples)  # every sample, bit for bit
    assert info.frames == len(samples) and info.duration_s == pytest.approx(3.0)
    assert info.format == "WAV" and info.subtype == "PCM_16" and not info.truncated
    assert info.as_document()["declared_duration_s"] == 0
    assert info.length_warning() == (
        "unfinished.wav: its header declares 0.0 s of audio but the file holds 3.0 s (a header never finished, "
        "as a recorder that stopped early or a writer without RF64 leaves); all of it was analysed")
    # The same from a file object, as the worker reads S3.
    with path.open("rb") as handle:
        streamed_info, streamed = read_audio(handle, 8000)
    np.testing.assert_array_equal(streamed, samples)
    assert streamed_info == info.__class__(**{**info.__dict__, "filename": streamed_info.filename})


def test_a_wav_whose_data_size_wrapped_past_4_gib_is_read_to_its_true_end(tmp_path: Path) -> None:
    """A writer without RF64 stores a 4.3 GB recording's data size modulo 2**32. The file is
    sparse here: the header is probed, which reads no audio."""
    rate, tail = 48000, 96000 * 30  # 30 s of 16-bit mono beyond 4 GiB
    total = 2**32 + tail
    header = bytearray(44)
    header[0:4], header[8:16] = b"RIFF", b"WAVEfmt "
    header[4:8] = ((36 + total) % 2**32).to_bytes(4, "little")
    header[16:36] = (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + \
        rate.to_bytes(4, "little") + (rate * 2).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    header[36:40], header[40:44] = b"data", (total % 2**32).to_bytes(4, "little")
    path = tmp_path / "over4g.wav"
    with path.open("wb") as handle:
        handle.write(header)
        handle.seek(44 + 2**32)
        handle.write(np.full(tail // 2, 1000, "<i2").tobytes())  # not silence: no chunk header can be read there
    info = probe_audio(path)
    assert info.frames == total // 2 and info.duration_s == pytest.approx(total / 2 / rate)
    assert info.declared_frames == tail // 2 and not info.truncated
    assert "its header declares 30.0 s of audio but the file holds 44769.2 s (a size that wrapped past 4 GiB" \
        in info.length_warning()


def test_bytes_after_a_wav_s_declared_audio_that_are_no_chunks_are_named_not_read(tmp_path: Path) -> None:
    """A damaged size that is no known mistake: the declared audio is analysed, and the rest is said."""
    path, samples = _wav_whose_header_says(tmp_path, "short-header.wav", 8000 * 2)  # 1 s of 3
    info, audio = read_audio(path, 8000)
    np.testing.assert_array_equal(audio, samples[:8000])
    assert info.unread_bytes == 2 * 8000 * 2 and info.as_document()["unread_bytes"] == 32000
    assert info.length_warning() == (
        "short-header.wav: 32000 bytes follow the 1.0 s of audio its header declares and are not chunks "
        "(more audio, about 2.0 s, after a damaged header?); only the declared 1.0 s were analysed")


def test_a_header_with_no_usable_sample_rate_says_so_in_words(tmp_path: Path) -> None:
    """libsndfile answers 'Internal error : SF_INFO struct incomplete.' for a rate of 0."""
    path, _ = _wav_whose_header_says(tmp_path, "rate0.wav", None)
    data = bytearray(path.read_bytes())
    data[24:28] = (0).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptAudioError) as refused:
        probe_audio(path)
    assert str(refused.value) == "rate0.wav: the header gives no usable sample rate, channel count or sample format"


def test_metadata_after_the_audio_is_no_audio_whether_whole_or_cut(tmp_path: Path) -> None:
    """A LIST (or iXML, GUANO) chunk after the data: cut inside it, the audio is whole; cut in the
    audio, the header still declares the audio's length only."""
    rate = 8000
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(10 * rate, dtype=np.float32), rate, format="WAV", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    payload = b"INFOICMT" + (100_000).to_bytes(4, "little") + b"x" * 100_000
    data += b"LIST" + len(payload).to_bytes(4, "little") + payload
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    audio_end = 44 + 10 * rate * 2
    (tmp_path / "meta-cut.wav").write_bytes(bytes(data[: audio_end + 50_000]))
    (tmp_path / "audio-cut.wav").write_bytes(bytes(data[: 44 + 4 * rate * 2]))
    assert not probe_audio(tmp_path / "meta-cut.wav").truncated
    cut = probe_audio(tmp_path / "audio-cut.wav")
    assert cut.declared_frames == 10 * rate and cut.frames == 4 * rate


@pytest.mark.parametrize(("container", "tag_offset"), [("WAV", 20), ("WAVEX", 44)], ids=["plain", "extensible"])
def test_a_wav_in_an_encoding_with_no_decoder_is_unsupported_and_names_its_format_tag(
    tmp_path: Path, container: str, tag_offset: int
) -> None:
    """libsndfile calls such a fmt chunk 'malformed' (or the data 'unimplemented'): the job's code
    must say the file is of a kind it cannot read, not that the file is damaged."""
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(8000, dtype=np.float32), 8000, format=container, subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    assert data[tag_offset:tag_offset + 2] == b"\x01\x00"  # PCM's tag (the sub-format GUID's first bytes)
    data[tag_offset:tag_offset + 2] = (0x0161).to_bytes(2, "little")  # Windows Media Audio
    path = tmp_path / "wma.wav"
    path.write_bytes(bytes(data))
    for source in (path, io.BytesIO(bytes(data))):  # a path, and a file object as the worker reads S3
        with pytest.raises(UnsupportedAudioError, match=r"format tag 0x0161.*convert it to PCM WAV or FLAC"):
            probe_audio(source)


def test_a_wav_whose_format_tag_was_zeroed_is_corrupt_not_an_encoding(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(8000, dtype=np.float32), 8000, format="WAV", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    data[20:22] = b"\x00\x00"
    (tmp_path / "zeroed.wav").write_bytes(bytes(data))
    with pytest.raises(CorruptAudioError, match="zeroed.wav"):
        probe_audio(tmp_path / "zeroed.wav")
