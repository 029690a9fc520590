"""The detector end to end on a tiny exported model: windows, progress, cancellation, errors."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from anemonefish.detect import Detector
from anemonefish.exceptions import AudioTooShortError, DetectionCancelled, ModelBundleError, UnsupportedAudioError
from anemonefish.model import load_bundle
from anemonefish.params import DetectionParams
from support import write_tone_wav


@pytest.fixture(scope="module")
def detector(tiny_bundle: Path) -> Detector:
    return Detector(load_bundle(tiny_bundle), block_s=3.0)


def test_scores_every_window_and_reports_progress(tmp_path: Path, detector: Detector) -> None:
    path = write_tone_wav(tmp_path / "a.wav", 20.0, sr=22050)
    seen: list[float] = []
    result = detector.run(path, progress=seen.append)
    assert result.scores.shape == (96, 3)  # (20 - 1) / 0.2 + 1
    np.testing.assert_allclose(result.scores.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(result.window_starts, np.arange(96) * 0.2, atol=1e-9)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 3
    assert result.audio.duration_s == pytest.approx(20.0)


def test_streamed_scores_do_not_depend_on_block_size(tmp_path: Path, tiny_bundle: Path) -> None:
    path = write_tone_wav(tmp_path / "b.wav", 12.0)
    small = Detector(load_bundle(tiny_bundle), block_s=0.7).run(path)
    large = Detector(load_bundle(tiny_bundle), block_s=60).run(path)
    np.testing.assert_allclose(small.scores, large.scores, atol=1e-5)


def test_with_params_reuses_scores(tmp_path: Path, detector: Detector) -> None:
    result = detector.run(write_tone_wav(tmp_path / "c.wav", 5.0))
    everything = result.with_params(DetectionParams(threshold=0.0, target_class="noise"))
    assert len(everything.events) == 1 and everything.events[0].end == pytest.approx(5.0)


def test_cancellation_between_blocks(tmp_path: Path, detector: Detector) -> None:
    path = write_tone_wav(tmp_path / "d.wav", 30.0)
    calls = []
    with pytest.raises(DetectionCancelled):
        detector.run(path, should_stop=lambda: calls.append(1) or len(calls) > 2)


def test_too_short_and_not_audio(tmp_path: Path, detector: Detector) -> None:
    with pytest.raises(AudioTooShortError, match="shorter than one 1.0 s analysis window"):
        detector.run(write_tone_wav(tmp_path / "short.wav", 0.5))
    # One sample short of a window: not "1.000 s is shorter than 1.0 s".
    sf.write(tmp_path / "almost.wav", np.zeros(47_999, np.float32), 48_000, subtype="PCM_16")
    with pytest.raises(AudioTooShortError) as short:
        detector.run(tmp_path / "almost.wav")
    assert str(short.value) == ("almost.wav: 0.999 s of audio (47999 samples at 48000 Hz) is shorter than one "
                                "1.0 s analysis window")
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"\x00\x01" * 1000)
    with pytest.raises(UnsupportedAudioError):
        detector.run(bad)


def test_unknown_target_class_fails_before_decoding(tmp_path: Path, detector: Detector) -> None:
    with pytest.raises(ValueError, match="whale"):
        detector.run(tmp_path / "never-opened.wav", DetectionParams(target_class="whale"))


def test_bundle_whose_card_disagrees_with_model_is_refused(tmp_path: Path, tiny_bundle: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle, broken)
    card = (broken / "card.json").read_text().replace('"image_height": 32', '"image_height": 48')
    (broken / "card.json").write_text(card)
    with pytest.raises(ModelBundleError, match="does not match the card"):
        load_bundle(broken)
    with pytest.raises(ModelBundleError, match="no card.json"):
        load_bundle(tmp_path)


def test_multichannel_channel_choice(tmp_path: Path, detector: Detector) -> None:
    path = tmp_path / "stereo.wav"
    rng = np.random.default_rng(0)
    sf.write(path, rng.standard_normal((16000 * 3, 2)).astype(np.float32) * [0.01, 0.5], 16000)
    quiet = detector.run(path, DetectionParams(channel=0))
    loud = detector.run(path, DetectionParams(channel=1))
    assert quiet.audio.channel == 0 and loud.audio.channel == 1
    assert not np.allclose(quiet.scores, loud.scores)


def test_an_mp3_cut_short_is_analysed_to_its_end_with_a_warning(tmp_path: Path, tiny_bundle: Path) -> None:
    """libsndfile takes an MP3's length from its header (or its size) and stops decoding
    where a half-copied file ends, without a word: the result must say so and give the
    length analysed, not the header's. (A cut OGG's length is read from its last page, so
    it is the length that is there.)"""
    whole = write_tone_wav(tmp_path / "whole.mp3", 20.0, sr=16000, fmt="MP3", subtype="MPEG_LAYER_III")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 5])
    detector = Detector(load_bundle(tiny_bundle))

    complete = detector.run(whole)
    assert complete.warnings == [] and "declared_duration_s" not in complete.audio.as_document()

    result = detector.run(cut)
    assert result.audio.declared_frames == complete.audio.frames
    assert 5.0 < result.audio.duration_s < 10.0  # about 2/5 of it, and what the windows cover
    assert result.window_starts[-1] + 1.0 <= result.audio.duration_s + 0.01
    assert all(event.end <= result.audio.duration_s for event in result.events)
    assert result.audio.as_document()["declared_duration_s"] == pytest.approx(20.0, abs=0.05)
    (warning,) = result.warnings
    assert warning.startswith("cut.mp3: decoding ended after ") and "short of the 20.0 s its size suggests" in warning


def test_a_complete_constant_bit_rate_mp3_gets_no_truncation_warning(tmp_path: Path, tiny_bundle: Path) -> None:
    """Without a Xing/Info frame (too small a frame at 24 kbps) libsndfile estimates the length
    from the size, about 0.5 % long at 22.05 kHz: a complete file is not a cut one."""
    path = tmp_path / "whole.mp3"
    samples = (0.05 * np.random.default_rng(2).standard_normal(300 * 22050)).astype(np.float32)
    sf.write(path, samples, 22050, format="MP3", subtype="MPEG_LAYER_III", bitrate_mode="CONSTANT",
             compression_level=0.9)
    estimated = sf.info(path).duration
    result = Detector(load_bundle(tiny_bundle)).run(path)
    assert estimated > 300.5  # the estimate this guards against is there
    assert result.warnings == [] and "declared_duration_s" not in result.audio.as_document()
    # The length analysed is the one decoded, not the estimate.
    assert result.audio.duration_s == pytest.approx(300.0, abs=0.2)


def test_the_length_analysed_is_the_one_decoded_and_a_shortfall_is_said_past_what_an_estimate_explains() -> None:
    from anemonefish.audio import AudioInfo
    from anemonefish.detect import _as_decoded

    mp3 = AudioInfo("x.mp3", 600.0, 16000, 1, 9_600_000, "MP3", "MPEG_LAYER_III")
    small = _as_decoded(mp3, 596.4)  # within an estimate's error: not said, yet not claimed either
    assert small.duration_s == pytest.approx(596.4) and small.length_warning() is None
    cut = _as_decoded(mp3, 500.0)
    assert cut.duration_s == pytest.approx(500.0) and cut.declared_frames == mp3.frames and "its size suggests" in cut.length_warning()
    flac = AudioInfo("x.flac", 600.0, 16000, 1, 9_600_000, "FLAC", "PCM_16")  # a count: 1 s short is a cut
    assert "its header declares 600.0 s" in _as_decoded(flac, 599.0).length_warning()
    assert _as_decoded(flac, 600.0) is flac


def test_a_damaged_frame_ends_decoding_there_and_what_came_before_is_analysed(tmp_path: Path, detector: Detector) -> None:
    """One damaged FLAC frame near the end of an hour failed the whole recording ("flac decoder
    lost sync"); now the audio before it is analysed and the warning says where it stopped."""
    from anemonefish.audio import read_audio
    from anemonefish.exceptions import CorruptAudioError

    noise = (np.random.default_rng(1).standard_normal(8000 * 30) * 0.1).astype(np.float32)
    sf.write(tmp_path / "whole.flac", noise, 8000, subtype="PCM_16")
    damaged = bytearray((tmp_path / "whole.flac").read_bytes())
    at = int(len(damaged) * 0.7)
    damaged[at:at + 20] = b"\xff" * 20
    (tmp_path / "damaged.flac").write_bytes(bytes(damaged))
    result = detector.run(tmp_path / "damaged.flac")
    assert 15.0 <= result.audio.duration_s <= 21.0  # up to the block the damage is in (3 s blocks here)
    [warning] = result.warnings
    assert warning.startswith(f"damaged.flac: decoding failed after {result.audio.duration_s:.1f} s of 30.0 s "
                              "(cannot decode audio (")
    assert warning.endswith("); what was decoded was analysed")
    assert result.audio.as_document()["declared_duration_s"] == 30.0
    assert "decode_error" in result.audio.as_document()
    # Training data is refused instead: labels past the damage would describe audio not read.
    with pytest.raises(CorruptAudioError, match="damaged.flac: cannot decode audio"):
        read_audio(tmp_path / "damaged.flac", 8000)
    from anemonefish.baseline import EnergyDetector  # and so is the baseline's: it is compared with whole files

    with pytest.raises(CorruptAudioError, match="damaged.flac: cannot decode audio"):
        EnergyDetector(detector.frontend).detect(tmp_path / "damaged.flac")
    # Damage before any audio came is still the recording's failure.
    head = bytearray((tmp_path / "whole.flac").read_bytes())
    head[200:4000] = b"\xff" * 3800
    (tmp_path / "head.flac").write_bytes(bytes(head))
    with pytest.raises(CorruptAudioError):
        detector.run(tmp_path / "head.flac")


def _mp3_damaged_at(tmp_path: Path, name: str, fractions: list[float], damage: bytes) -> tuple[Path, Path]:
    noise = (np.random.default_rng(2).standard_normal(16000 * 30) * 0.1).astype(np.float32)
    sf.write(tmp_path / "whole.mp3", noise, 16000, format="MP3")
    data = bytearray((tmp_path / "whole.mp3").read_bytes())
    for fraction in fractions:
        at = int(len(data) * fraction)
        data[at:at + len(damage)] = damage
    (tmp_path / name).write_bytes(bytes(data))
    return tmp_path / "whole.mp3", tmp_path / name


def test_damaged_mp3_frames_the_decoder_skips_are_said_not_printed(
    tmp_path: Path, detector: Detector, capfd: pytest.CaptureFixture[str]
) -> None:
    """libmpg123 resynchronises past a damaged frame and only prints "Note: Illegal Audio-MPEG-
    Header ... Skipped 240 bytes" to stderr, over the progress bar; the document said nothing,
    though every time after the skip comes early."""
    from anemonefish.audio import read_audio
    from anemonefish.exceptions import CorruptAudioError

    whole, damaged = _mp3_damaged_at(tmp_path, "skips.mp3", [0.3, 0.6], bytes(range(7, 207)))
    clean = detector.run(whole)
    result = detector.run(damaged)
    assert result.audio.duration_s < clean.audio.duration_s  # the frames skipped are gone
    document = result.audio.as_document()
    assert document["resyncs"] >= 2 and document["skipped_bytes"] > 0  # one damage may cost more than one resync
    [warning] = result.warnings
    assert warning.startswith(f"skips.mp3: damaged MP3 frames: the decoder skipped {document['skipped_bytes']} bytes "
                              f"in {document['resyncs']} place(s) and went on")
    assert "resyncs" not in clean.audio.as_document() and clean.warnings == []
    assert "Note:" not in capfd.readouterr().err
    # Training refuses it: its labels' times after the first skip would not match the audio.
    with pytest.raises(CorruptAudioError, match=r"skips.mp3: damaged MP3 frames: the decoder skipped \d+ bytes in \d+ place"):
        read_audio(damaged, 8000)


def test_an_mp3_the_decoder_gives_up_on_is_analysed_to_there_with_libmpg123s_reason(
    tmp_path: Path, detector: Detector, capfd: pytest.CaptureFixture[str]
) -> None:
    _, damaged = _mp3_damaged_at(tmp_path, "zeros.mp3", [0.5], bytes(2000))
    result = detector.run(damaged)
    assert 10.0 <= result.audio.duration_s <= 16.0
    assert result.audio.decode_error == "zeros.mp3: cannot decode audio (libmpg123: Giving up resync after 1024 bytes)"
    assert result.audio.resyncs is None  # the resync that ended decoding skipped past nothing
    assert "error:" not in capfd.readouterr().err


def test_the_stderr_capture_keeps_what_is_captured_and_releases_it_on_request(capfd: pytest.CaptureFixture[str]) -> None:
    import os

    from anemonefish.native import NativeStderrCapture

    capture = NativeStderrCapture()
    for text in (b"Note: one\n", b"another\n"):  # reusable: each entry starts empty
        with capture:
            os.write(2, text)
        assert capture.captured == text
    assert capfd.readouterr().err == ""
    capture.release(b"kept for the user\n")
    capture.close()
    assert capfd.readouterr().err == "kept for the user\n"


def test_mp3s_decoded_in_several_threads_keep_their_own_notes_and_fd_2(tmp_path: Path) -> None:
    """fd 2 is the process's: two threads redirecting it at once left it pointing at a deleted
    temporary file (every later traceback lost) and read each other's notes (a clean file warned)."""
    import os
    import threading

    from anemonefish.audio import stream_audio

    whole, damaged = _mp3_damaged_at(tmp_path, "skips.mp3", [0.3, 0.6], bytes(range(7, 207)))

    def counts(path: Path) -> tuple[int, int]:
        _, blocks = stream_audio(path, 8000, 0, 2.0)
        for _ in blocks:
            pass
        return blocks.resyncs, blocks.skipped_bytes

    alone = counts(damaged)
    before = os.fstat(2)
    seen: dict[str, list[tuple[int, int]]] = {}

    def work(name: str, path: Path) -> None:
        for _ in range(3):
            seen.setdefault(name, []).append(counts(path))

    threads = [threading.Thread(target=work, args=(f"clean{i}", whole)) for i in range(2)]
    threads.append(threading.Thread(target=work, args=("damaged", damaged)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"clean0": [(0, 0)] * 3, "clean1": [(0, 0)] * 3, "damaged": [alone] * 3}
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


def test_mp3s_decode_in_a_process_started_without_stderr(tmp_path: Path) -> None:
    """With 2>&- fd 2 is free, and the next file opened takes it: here, libsndfile's handle on the
    recording, which a redirection of 'stderr' replaced (24 samples decoded) or crashed on."""
    import subprocess
    import sys

    whole, damaged = _mp3_damaged_at(tmp_path, "skips.mp3", [0.3], bytes(range(7, 207)))
    script = ("import sys\nfrom anemonefish.audio import read_audio\n"
              f"for path in ({str(whole)!r}, {str(damaged)!r}):\n"
              "    _, samples = read_audio(path, 8000)\n    print(len(samples))\n")
    done = subprocess.run(f"{sys.executable} -c {shlex.quote(script)} 2>&-", shell=True, capture_output=True, text=True)
    assert done.returncode == 0
    lengths = [int(n) for n in done.stdout.split()]
    assert lengths[0] == 8000 * 30 and lengths[1] > 8000 * 29  # all of it (the skips unseen without a stderr)
