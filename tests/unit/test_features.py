"""The front end: librosa-exact STFT across block edges, tf-exact resize, train == serve."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from anemonefish.audio import read_audio, stream_audio
from anemonefish.card import FrontEndConfig
from anemonefish.features import FeatureExtractor, StreamingSpectrogram, resize_bilinear
from support import write_tone_wav

CONFIG = FrontEndConfig()


def _librosa_db(x: np.ndarray, config: FrontEndConfig) -> np.ndarray:
    stft = librosa.stft(x, n_fft=config.n_fft, hop_length=config.hop_length, window="hann",
                        center=True, pad_mode="constant")
    lo, hi = config.bin_range
    return 10 * np.log10(np.maximum(np.abs(stft[lo:hi]) ** 2, config.amin))


# The seed's 1024-point frames take the FFT path; the shipped model's 128-point frames
# (fmin 100 Hz, so the band starts above bin 0) take the band-DFT matrix path.
SHIPPED_LIKE = FrontEndConfig(n_fft=128, hop_length=64, fmin=100.0, image_height=39, image_width=100)


@pytest.mark.parametrize("config", [CONFIG, SHIPPED_LIKE], ids=["fft-1024", "dft-128"])
@pytest.mark.parametrize("block_sizes", [[1_000_000], [1, 255, 256, 257, 1023, 1025, 10_000], [333] * 200, [5000] * 20])
def test_streamed_spectrogram_matches_librosa_across_block_edges(block_sizes: list[int], config: FrontEndConfig) -> None:
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal(6400 * 9 + 77)).astype(np.float32)
    x[6400:7000] += np.sin(2 * np.pi * 620 * np.arange(600) / 6400).astype(np.float32)  # a tone far above the noise
    stft = StreamingSpectrogram(config)
    assert (stft._dft is None) == (config is CONFIG)
    parts, pos = [], 0
    for size in block_sizes:
        parts.append(stft.push(x[pos : pos + size]))
        pos += size
    if pos < len(x):
        parts.append(stft.push(x[pos:]))
    parts.append(stft.finish())
    streamed = np.concatenate(parts, axis=1)
    reference = _librosa_db(x, config)
    assert streamed.shape == reference.shape == (config.n_bins, 1 + len(x) // config.hop_length)
    # float32 transforms of different libraries: agree to ~1e-3 dB on values spanning ~60 dB
    np.testing.assert_allclose(streamed, reference, atol=5e-3)


def test_bin_range_stops_at_fmax() -> None:
    lo, hi = CONFIG.bin_range
    freqs = np.fft.rfftfreq(CONFIG.n_fft, 1 / CONFIG.sample_rate)
    assert freqs[hi - 1] <= CONFIG.fmax < freqs[hi]
    assert lo == 0


@pytest.mark.parametrize(("h", "w", "out_h", "out_w"), [(321, 25, 256, 256), (321, 25, 64, 25), (31, 257, 256, 256), (10, 10, 3, 7)])
def test_resize_matches_tf_image_resize(h: int, w: int, out_h: int, out_w: int) -> None:
    import tensorflow as tf  # the dev extra installs it
    images = np.random.default_rng(2).standard_normal((3, h, w)).astype(np.float32)
    expected = tf.image.resize(images[..., None], (out_h, out_w), method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(resize_bilinear(images, out_h, out_w), expected, atol=2e-5)


def test_window_grid_and_count() -> None:
    fx = FeatureExtractor(CONFIG)
    x = np.zeros(int(6400 * 5.1), np.float32)
    images, starts = fx.windows_from_signal(x)
    assert len(images) == CONFIG.n_windows(len(x)) == 21  # (5.1 - 1.0) / 0.2 + 1
    np.testing.assert_allclose(starts, np.arange(21) * 0.2)
    assert images.shape[1:] == (321, 25, 1)
    assert fx.windows_from_signal(np.zeros(6000, np.float32))[0].shape[0] == 0  # < 1 window


def test_window_images_are_cut_from_the_spectrogram() -> None:
    config = FrontEndConfig(normalisation="none")
    x = np.random.default_rng(3).standard_normal(6400 * 4).astype(np.float32)
    spec = FeatureExtractor(config).spectrogram(x)
    images, _ = FeatureExtractor(config).windows_from_signal(x)
    for i in (0, 3, len(images) - 1):
        first = config.window_start_frame(i)
        np.testing.assert_allclose(images[i, :, :, 0], spec[:, first : first + 25], atol=1e-5)


def test_normalisation_standardises_each_window() -> None:
    x = np.random.default_rng(4).standard_normal(6400 * 3).astype(np.float32)
    images, _ = FeatureExtractor(FrontEndConfig(image_height=64, image_width=32)).windows_from_signal(x)
    assert images.shape[1:] == (64, 32, 1)
    flat = images.reshape(len(images), -1)
    np.testing.assert_allclose(flat.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(flat.std(axis=1), 1, atol=1e-3)


@pytest.mark.parametrize("config", [FrontEndConfig(image_height=64), FrontEndConfig(image_height=256, image_width=256, normalisation="minmax")])
def test_training_features_equal_inference_features(tmp_path: Path, config: FrontEndConfig) -> None:
    """The path training uses (whole signal in memory) and the streamed serving path agree exactly."""
    path = write_tone_wav(tmp_path / "r.wav", 30.5, sr=48000, seed=5)
    _, signal = read_audio(path, config.sample_rate)
    train_images, train_starts = FeatureExtractor(config).windows_from_signal(signal)
    _, blocks = stream_audio(path, config.sample_rate, block_s=1.3)  # many block edges
    served = list(FeatureExtractor(config).stream(blocks))
    serve_images = np.concatenate([b[0] for b in served])
    np.testing.assert_array_equal(np.concatenate([b[1] for b in served]), train_starts)
    assert len(served) > 5
    np.testing.assert_allclose(serve_images, train_images, atol=1e-5)


def test_non_integer_stride_in_hops_uses_rounded_frame_grid() -> None:
    config = FrontEndConfig(sample_rate=8000, stride_s=0.4)  # 12.5 hops per stride
    assert [config.window_start_frame(i) for i in range(4)] == [0, 12, 25, 38]
    images, starts = FeatureExtractor(config).windows_from_signal(np.zeros(8000 * 3, np.float32))
    assert len(images) == 6 and images.shape[2] == config.frames_per_window == 31


def test_invalid_frontend_is_refused() -> None:
    with pytest.raises(ValueError, match="Nyquist"):
        FrontEndConfig(sample_rate=3000, fmax=2000)


def test_a_silent_window_scales_to_zeros_not_nan() -> None:
    """Zero padding or a muted stretch: divided by its zero spread it became NaN, which the
    smoothing spread over the events around it."""
    from anemonefish.features import normalise

    images = np.zeros((2, 4, 5), np.float32)
    images[1] = np.arange(20, dtype=np.float32).reshape(4, 5)
    out = normalise(images, "standardize")
    assert np.isfinite(out).all() and not out[0].any()
    assert out[1].std() == pytest.approx(1.0, abs=1e-5)
