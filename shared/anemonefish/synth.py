"""Synthetic reef soundscapes with labelled anemonefish calls (numpy only, seeded).

No labelled public anemonefish recordings exist, so the shipped model is trained and
evaluated on soundscapes built from the published figures in the design notes
(``anemonefish-sounds.md``): a roughly 1/f ambient, snapping shrimp, boats, other fish
(grunts/knocks, label ``biological``), dolphin whistles (``biological``) and anemonefish
pops (1-2 pulses) and chirps (3-8 pulses), each pulse a damped sinusoid.

Every call's level is set by its signal-to-noise ratio *in band* (default 200-2000 Hz):
the call's mean power over its duration against the mean power of everything else (the
background) within one second around it, both band-passed. The same config and seed
always give the same samples and annotations.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from anemonefish.audio import SAMPLE_BYTES

ANEMONEFISH = "anemonefish"
BIOLOGICAL = "biological"
# Seeds are 0..2**32-1: numpy takes no negative seed, TensorFlow no larger one.
MAX_SEED = 2**32 - 1


class SynthEvent(BaseModel):
    """One labelled sound in a soundscape (the ground truth)."""

    model_config = ConfigDict(frozen=True)

    start: float = Field(description="Onset (s).")
    end: float = Field(description="Offset (s).")
    label: str = Field(description="'anemonefish' or 'biological'.")
    kind: str = Field(description="pop, chirp, grunt, knock or whistle.")
    snr_db: float = Field(description="In-band SNR the sound was scaled to (dB).")
    f0: float = Field(description="Dominant (anemonefish, fish) or start (whistle) frequency (Hz).")
    n_pulses: int = Field(1, description="Pulses in the call (whistles: 1).")


class SynthConfig(BaseModel):
    """What goes into one soundscape. Rates are of a Poisson stream before ``min_gap_s`` thins it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    duration_s: float = Field(60.0, ge=2.0, le=24 * 3600)
    sample_rate: int = Field(48000, ge=4000, le=384000)
    # Beyond these a sound is silence under the reef or the reef silence under it (and 10**(snr/10)
    # overflows a float at about +3000 dB).
    snr_db: float | None = Field(None, ge=-60.0, le=60.0, description="Fixed in-band SNR of every labelled sound.")
    snr_range_db: tuple[Annotated[float, Field(ge=-60.0, le=60.0)], Annotated[float, Field(ge=-60.0, le=60.0)]] = Field(
        (-10.0, 20.0), description="Uniform SNR range otherwise.")
    snr_band_hz: tuple[float, float] = Field((200.0, 2000.0))
    anemonefish_per_min: float = Field(6.0, ge=0)
    biological_per_min: float = Field(6.0, ge=0, description="Fish grunts and knocks.")
    whistles_per_min: float = Field(1.0, ge=0)
    chirp_fraction: float = Field(0.6, ge=0, le=1, description="Chirps among anemonefish calls.")
    anemonefish_f0_hz: tuple[float, float] = Field(
        (370.0, 900.0), description="Range of a call's dominant frequency: 370-900 Hz across 55-130 mm fish "
        "(the sounds page); it falls with body size, so a site of smaller fish calls higher."
    )
    min_gap_s: float = Field(1.5, ge=0, description="Least silence between two labelled sounds.")
    shrimp_per_s: tuple[float, float] = Field((2.0, 150.0), description="Range of click rates.")
    boat_probability: float = Field(0.25, ge=0, le=1)
    variety: bool = Field(
        True,
        description="Random ambient colour (1/f^a), band-limited hum and overall gain, so a "
        "model does not learn one background.",
    )
    peak: float = Field(0.8, gt=0, le=1, description="Peak amplitude of the written signal.")

    @model_validator(mode="after")
    def _check(self) -> SynthConfig:
        lo, hi = self.snr_band_hz
        if not 0 <= lo < hi:
            raise ValueError("snr_band_hz must be (low, high) with low < high")
        if self.snr_range_db[0] > self.snr_range_db[1]:
            raise ValueError("snr_range_db must be (low, high)")
        if not 0 < self.anemonefish_f0_hz[0] <= self.anemonefish_f0_hz[1] < 0.45 * self.sample_rate:
            raise ValueError("anemonefish_f0_hz must be (low, high) with 0 < low <= high < 0.45 x sample_rate")
        return self


class Soundscape(BaseModel):
    """A synthesized recording and its truth."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    signal: np.ndarray  # float32, mono
    sample_rate: int
    events: list[SynthEvent]
    seed: int | list[int]
    config: SynthConfig
    # Only with ``keep_parts``: the unscaled background and the labelled sounds, at the
    # levels the SNRs were set on (their sum, before the final gain, is the signal).
    background: np.ndarray | None = None
    foreground: np.ndarray | None = None

    def labelled(self, label: str) -> list[SynthEvent]:
        return [e for e in self.events if e.label == label]


_BOAT_SLICE = 1 << 20  # samples of a boat's tones computed at once


def _band_power(x: np.ndarray, sr: int, band: tuple[float, float]) -> float:
    """Mean power of ``x`` after an ideal FFT band-pass (exact and cheap for short snippets)."""
    if x.size == 0:
        return 0.0
    n = 1 << max(1, int(x.size - 1).bit_length())
    spec = np.fft.rfft(x, n)
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    keep = (freqs >= band[0]) & (freqs <= band[1])
    # Parseval on the zero-padded transform, normalised by the true length.
    energy = (2.0 * np.sum(np.abs(spec[keep]) ** 2)) / n
    return float(energy / x.size)


def _coloured_noise(rng: np.random.Generator, n: int, sr: int, alpha: float, f_lo: float = 5.0) -> np.ndarray:
    """Gaussian noise with power spectral density ~ 1/f^alpha above ``f_lo`` (unit RMS)."""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    shape = np.maximum(freqs, f_lo) ** (-alpha / 2.0)
    shape[0] = 0.0
    x = np.fft.irfft(spec * shape, n)
    return x / (np.std(x) + 1e-12)


class _Builder:
    """Accumulates components for one soundscape from one random generator."""

    def __init__(self, config: SynthConfig, rng: np.random.Generator) -> None:
        self.cfg = config
        self.rng = rng
        self.sr = config.sample_rate
        self.n = int(round(config.duration_s * self.sr))
        self.nyquist = self.sr / 2.0

    # -- background ------------------------------------------------------------------
    def ambient(self) -> np.ndarray:
        rng = self.rng
        alpha = rng.uniform(0.7, 1.4) if self.cfg.variety else 1.0
        x = _coloured_noise(rng, self.n, self.sr, alpha)
        if self.cfg.variety and rng.random() < 0.5:
            # A band-limited hum/bump (distant chorus, flow noise, instrument self-noise).
            centre = math.exp(rng.uniform(math.log(50.0), math.log(min(4000.0, 0.8 * self.nyquist))))
            width = centre * rng.uniform(0.1, 0.6)
            spec = np.fft.rfft(self.rng.standard_normal(self.n))
            freqs = np.fft.rfftfreq(self.n, 1.0 / self.sr)
            bump = np.fft.irfft(spec * np.exp(-0.5 * ((freqs - centre) / width) ** 2), self.n)
            x = x + bump / (np.std(bump) + 1e-12) * rng.uniform(0.1, 1.0)
        return x

    def multipath(self, x: np.ndarray, max_delay_s: float = 0.008) -> np.ndarray:
        """Add 1-3 delayed, scaled copies (surface/bottom reflections).

        In shallow water every sound arrives over several paths; a short impulse then has
        a comb-filtered spectrum with peaks every 1/delay Hz, so a click can look tonal in
        places. Training on it keeps the model from taking such clicks for calls.
        """
        rng, sr = self.rng, self.sr
        taps = int(rng.integers(1, 4))
        delays = np.sort(rng.uniform(0.0003, max_delay_s, taps))
        lengths = (delays * sr).astype(int)
        out = np.zeros(x.size + int(lengths.max()) + 1)
        out[: x.size] += x
        for k, lag in enumerate(lengths):
            sign = -1.0 if (k == 0 and rng.random() < 0.7) else rng.choice([-1.0, 1.0])
            out[lag : lag + x.size] += sign * rng.uniform(0.3, 0.9) * x
        return out

    def shrimp(self) -> np.ndarray:
        """Snapping shrimp: 0.1-0.4 ms broadband clicks, Pareto amplitudes, Poisson times.

        Distant snaps arrive low-passed, with a short reverberant tail and multipath
        copies, like the clicks on real reef recordings.
        """
        rng, sr = self.rng, self.sr
        out = np.zeros(self.n)
        rate = rng.uniform(*self.cfg.shrimp_per_s)
        count = rng.poisson(rate * self.cfg.duration_s)
        if count == 0:
            return out
        onsets = rng.integers(0, self.n, count)
        # Peak levels relative to the ambient RMS: a 0.2 ms snap needs a peak ~100x the
        # RMS to stand out below 2 kHz, which near snaps on real reefs easily reach.
        level = math.exp(rng.uniform(math.log(3.0), math.log(60.0)))
        amps = level * (rng.pareto(1.5, count) + 1.0)
        for onset, amp in zip(onsets, amps):
            dur = rng.uniform(0.1e-3, 0.4e-3)
            length = max(2, int(round(dur * sr)) * 3)  # tail to -> e^-3 of the peak
            t = np.arange(length) / sr
            click = rng.standard_normal(length) * np.exp(-t / (dur / 2.0 + 1e-9))
            click[0] = abs(click[0]) + 1.0  # the snap: a sharp positive onset
            click /= np.max(np.abs(click))
            kind = rng.random()
            if kind < 0.3:
                # low-passed by distance: one-pole smoothing as a short exponential FIR
                cutoff = rng.uniform(300.0, 3000.0)
                tau = sr / (2 * np.pi * cutoff)
                kernel = np.exp(-np.arange(int(5 * tau) + 1) / tau)
                click = np.convolve(click, kernel / kernel.sum() * 3.0)
            if kind > 0.5:
                tail_s = rng.uniform(0.002, 0.03)
                tail_t = np.arange(int(tail_s * sr * 2)) / sr
                tail = rng.standard_normal(tail_t.size) * np.exp(-tail_t / (tail_s / 2)) * rng.uniform(0.05, 0.3)
                click = np.concatenate([click, np.zeros(max(0, tail.size - click.size))])
                click[: tail.size] += tail
            if rng.random() < 0.6:
                click = self.multipath(click)
            end = min(self.n, onset + click.size)
            out[onset:end] += amp * click[: end - onset]
        return out

    def transients(self) -> np.ndarray:
        """Unlabelled broadband thumps and cracks of 1-10 ms (gear, debris, distant knocks)."""
        rng, sr = self.rng, self.sr
        out = np.zeros(self.n)
        count = rng.poisson(rng.uniform(0.0, 1.5) * self.cfg.duration_s)
        for onset in rng.integers(0, self.n, count):
            dur = rng.uniform(0.001, 0.010)
            t = np.arange(int(dur * sr * 3) + 2) / sr
            burst = rng.standard_normal(t.size) * np.exp(-t / (dur / 2))
            if rng.random() < 0.5:  # low-frequency weighted
                cutoff = rng.uniform(200.0, 2000.0)
                tau = sr / (2 * np.pi * cutoff)
                kernel = np.exp(-np.arange(int(5 * tau) + 1) / tau)
                burst = np.convolve(burst, kernel / np.sqrt(np.sum(kernel**2)))
            burst = self.multipath(burst) if rng.random() < 0.6 else burst
            burst *= math.exp(rng.uniform(math.log(2.0), math.log(40.0))) / (np.max(np.abs(burst)) + 1e-12)
            end = min(self.n, onset + burst.size)
            out[onset:end] += burst[: end - onset]
        return out

    def boat(self) -> np.ndarray:
        """A passing boat: harmonic engine/propeller tones plus broadband noise, minutes long."""
        rng, sr = self.rng, self.sr
        out = np.zeros(self.n)
        centre = rng.uniform(-0.5, 1.5) * self.cfg.duration_s
        sigma = rng.uniform(30.0, 120.0)
        # Where the envelope exceeds 1e-3 (|t - centre| < 3.72 sigma), found on a few samples
        # around the bounds rather than on whole-recording arrays (memory), with the same result.
        reach = sigma * math.sqrt(2.0 * math.log(1000.0))
        lo = min(self.n, max(0, int(math.floor((centre - reach) * sr)) - 2))
        hi = min(self.n, max(0, int(math.ceil((centre + reach) * sr)) + 3))
        t = np.arange(lo, hi) / sr
        env = np.exp(-0.5 * ((t - centre) / sigma) ** 2)
        audible = env > 1e-3
        if not audible.any():
            return out
        first, last = int(audible.argmax()), len(audible) - 1 - int(audible[::-1].argmax())
        sl = slice(lo + first, lo + last + 1)
        t, env = t[first : last + 1], env[first : last + 1]
        f1 = rng.uniform(8.0, 60.0)
        # Slow drift of the shaft rate (throttle, Doppler).
        drift = 1.0 + 0.02 * np.sin(2 * np.pi * t / rng.uniform(20.0, 90.0) + rng.uniform(0, 2 * np.pi))
        phase = 2 * np.pi * np.cumsum(f1 * drift) / sr
        del drift, t
        n_harm = int(min(30, max(1, min(1000.0, 0.45 * sr) // f1)))
        # Harmonic k is Im(a_k * z^k) with z = e^{i phase}: one complex product per
        # harmonic instead of a sine of the whole array (about 5x faster). In slices: three
        # complex arrays as long as a boat's passage (minutes) had taken 3 GB for 8 minutes.
        weights = [rng.uniform(0.3, 1.0) / k**0.7 * np.exp(1j * rng.uniform(0, 2 * np.pi)) for k in range(1, n_harm + 1)]
        tones = np.empty(phase.size)
        for first in range(0, phase.size, _BOAT_SLICE):
            z = np.exp(1j * phase[first : first + _BOAT_SLICE])
            power = z.copy()
            accum = np.zeros(z.size, dtype=np.complex128)
            for weight in weights:
                accum += weight * power
                power *= z
            tones[first : first + z.size] = accum.imag
        tones /= np.std(tones) + 1e-12
        broadband = _coloured_noise(rng, phase.size, sr, rng.uniform(0.5, 1.5), f_lo=50.0)
        blade = 1.0 + 0.5 * np.sin(phase * rng.integers(2, 6))  # cavitation pulsing at blade rate
        level = 10 ** (rng.uniform(0.0, 20.0) / 20.0)
        out[sl] = level * env * (tones + rng.uniform(0.5, 2.0) * broadband * blade)
        return out

    # -- labelled sounds --------------------------------------------------------------
    def anemonefish_call(self, kind: str) -> tuple[np.ndarray, float, int]:
        """A pop (1-2 pulses) or chirp (3-8): damped sinusoids at one f0 per call."""
        rng, sr = self.rng, self.sr
        n_pulses = int(rng.integers(1, 3)) if kind == "pop" else int(rng.integers(3, 9))
        f0 = rng.uniform(*self.cfg.anemonefish_f0_hz)
        pulse_s = rng.uniform(0.010, 0.040)
        period = rng.uniform(0.025, 0.050)
        harmonic = rng.uniform(0.0, 0.5) if rng.random() < 0.7 else 0.0
        onsets = [0.0]
        for _ in range(n_pulses - 1):
            onsets.append(onsets[-1] + period * max(0.6, 1.0 + 0.08 * rng.standard_normal()))
        total = onsets[-1] + pulse_s * 1.3
        x = np.zeros(int(math.ceil(total * sr)) + 1)
        for i, onset in enumerate(onsets):
            d = pulse_s * rng.uniform(0.85, 1.15)
            f = min(f0 * (1.0 + 0.03 * rng.standard_normal()), 0.45 * sr)
            length = int(d * sr)
            if length < 2:
                continue
            t = np.arange(length) / sr
            attack = min(length - 1, max(1, int(rng.uniform(0.5e-3, 2e-3) * sr)))
            env = np.exp(-t * math.log(100.0) / d)  # -40 dB at the end of the pulse
            env[:attack] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(attack) / attack)
            ph = rng.uniform(0, 2 * np.pi)
            pulse = np.sin(2 * np.pi * f * t + ph)
            if harmonic > 0 and 2 * f < 0.45 * sr:
                pulse += harmonic * np.sin(4 * np.pi * f * t + 2 * ph)
            # Chirps swell and fade a little along the train.
            gain = rng.uniform(0.7, 1.0) * (1.0 - 0.3 * abs(2 * i / max(1, n_pulses - 1) - 1))
            s = int(round(onset * sr))
            x[s : s + length] += gain * env * pulse
        return x, f0, n_pulses

    def fish_sound(self, kind: str) -> tuple[np.ndarray, float, int]:
        """Other fish, 80-1000 Hz: the hard negatives that share the anemonefish band.

        ``grunt``: trains of 2-6 tonal pulses of 40-120 ms that rise slowly (sonic muscle,
        not teeth) and sit mostly lower than anemonefish pulses. ``knock``: trains of 1-10
        short thumps (a broadband crack ringing for 1-4 cycles of 80-1000 Hz) at irregular
        intervals, as heard on real temperate-reef recordings (e.g. the Hornby Island AMAR
        file): pulse trains too, but without the narrow f0 of a jaw-slam pulse.
        """
        if kind == "knock":
            return self._knock_train()
        rng, sr = self.rng, self.sr
        n_pulses = int(rng.integers(2, 7))
        f0 = math.exp(rng.uniform(math.log(80.0), math.log(1000.0)))
        f0 = min(f0, 0.4 * sr)
        pulse_s = rng.uniform(0.040, 0.120)
        period = pulse_s * rng.uniform(1.0, 1.8)
        rich = rng.uniform(0.0, 0.8)
        total = period * (n_pulses - 1) + pulse_s * 1.15
        x = np.zeros(int(math.ceil(total * sr)) + 1)
        for i in range(n_pulses):
            d = pulse_s * rng.uniform(0.9, 1.1)
            length = int(d * sr)
            t = np.arange(length) / sr
            # Gamma-like envelope: peak at 20-50 % of the pulse.
            peak_at = rng.uniform(0.2, 0.5) * d
            env = (t / peak_at) ** 2 * np.exp(2 * (1 - t / peak_at))
            f = f0 * (1.0 + 0.02 * rng.standard_normal())
            ph = rng.uniform(0, 2 * np.pi)
            pulse = np.sin(2 * np.pi * f * t + ph)
            for k in (2, 3):
                if k * f < 0.45 * sr:
                    pulse += rich / k * np.sin(2 * np.pi * k * f * t + k * ph)
            s = int(round(i * period * sr))
            x[s : s + length] += env * pulse
        return x, f0, n_pulses

    def _knock_train(self) -> tuple[np.ndarray, float, int]:
        """Knocks: a broadband click with a short low-Q ring, 80-1000 Hz, alone or in trains.

        On the real Hornby Island recording the sounds that look most like a jaw-slam
        pulse are clicks whose energy rings on for 5-30 ms at 300-800 Hz. Their ring can
        sit anywhere in the anemonefish band; what gives them away is the broadband click
        on top of it (teeth slamming make a tonal pulse, not a crack across the band).
        """
        rng, sr = self.rng, self.sr
        n_pulses = int(rng.integers(1, 11))
        f0 = min(math.exp(rng.uniform(math.log(80.0), math.log(1000.0))), 0.4 * sr)
        onsets = np.cumsum(np.concatenate([[0.0], rng.uniform(0.015, 0.15, n_pulses - 1)]))
        longest = 4.0 / f0 * 3 + 0.004
        x = np.zeros(int(math.ceil((onsets[-1] + longest) * sr)) + 2)
        for onset in onsets:
            cycles = rng.uniform(1.0, 4.0)
            d = cycles / f0
            length = max(2, int(d * sr * 3))
            t = np.arange(length) / sr
            env = np.exp(-t / (d / 2.0))
            pulse = np.sin(2 * np.pi * f0 * rng.uniform(0.8, 1.2) * t) * env
            # The broadband crack on top of the thump: 0.2-3 ms of decaying noise, at a
            # level from a faint edge to louder than the ring.
            crack_s = rng.uniform(0.0002, 0.003)
            crack_t = np.arange(min(length, max(2, int(crack_s * sr * 2)))) / sr
            crack = rng.standard_normal(crack_t.size) * np.exp(-crack_t / (crack_s / 2))
            crack[0] = abs(crack[0]) + 1.0
            pulse[: crack.size] += rng.uniform(0.2, 2.0) * crack / np.max(np.abs(crack))
            s = int(round(onset * sr))
            x[s : s + length] += rng.uniform(0.5, 1.0) * pulse
        return x, f0, n_pulses

    def whistle(self) -> tuple[np.ndarray, float, int] | None:
        """A dolphin whistle: a frequency-modulated tone above 3 kHz, 0.3-1.5 s."""
        rng, sr = self.rng, self.sr
        top = min(18000.0, 0.45 * sr)
        if top <= 3500.0:
            return None  # nothing audible at this sample rate
        dur = rng.uniform(0.3, 1.5)
        n = int(dur * sr)
        t = np.arange(n) / sr
        f_start = rng.uniform(3000.0, top)
        f_end = rng.uniform(3000.0, top)
        wobble = rng.uniform(0, 0.1) * np.sin(2 * np.pi * rng.uniform(1, 5) * t)
        freq = np.clip(f_start + (f_end - f_start) * (t / dur) ** rng.uniform(0.5, 2.0) + wobble * f_start, 2500.0, top)
        phase = 2 * np.pi * np.cumsum(freq) / sr
        env = np.sin(np.pi * t / dur) ** 0.5
        return env * np.sin(phase), f_start, 1


def _kind_probabilities(cfg: SynthConfig) -> tuple[list[str], np.ndarray, float]:
    """Kinds of labelled sounds, their shares and the total rate (per second)."""
    rates = {
        "pop": cfg.anemonefish_per_min * (1 - cfg.chirp_fraction),
        "chirp": cfg.anemonefish_per_min * cfg.chirp_fraction,
        "grunt": cfg.biological_per_min * 0.6,
        "knock": cfg.biological_per_min * 0.4,
        "whistle": cfg.whistles_per_min,
    }
    total = sum(rates.values())
    if total <= 0:
        return list(rates), np.zeros(len(rates)), 0.0
    return list(rates), np.array(list(rates.values())) / total, total / 60.0


def synthesize(config: SynthConfig | None = None, seed: int | list[int] = 0, keep_parts: bool = False) -> Soundscape:
    """Build one soundscape. ``seed`` may be an int or a list of ints (a seed sequence)."""
    cfg = config or SynthConfig()
    rng = np.random.default_rng(seed)
    b = _Builder(cfg, rng)
    background = b.ambient()
    background += b.shrimp()
    if cfg.variety:
        background += b.transients()
    if rng.random() < cfg.boat_probability:
        background += b.boat()

    band = (cfg.snr_band_hz[0], min(cfg.snr_band_hz[1], 0.5 * cfg.sample_rate))
    sr = cfg.sample_rate
    labelled = np.zeros_like(background)
    events: list[SynthEvent] = []
    placed: list[tuple[int, np.ndarray, SynthEvent]] = []
    kinds, probs, total_rate = _kind_probabilities(cfg)
    # Labelled sounds follow a Poisson stream that keeps ``min_gap_s`` of quiet between them,
    # so every one of them can be told apart by an event-level evaluation.
    # The first and last second stay free of labelled sounds: a detector's first and last
    # windows stand for the recording's edges, which would blur the onsets there.
    t = 1.0 + (rng.exponential(1.0 / total_rate) if total_rate > 0 else 0.0)
    while total_rate > 0:
        kind = kinds[int(rng.choice(len(kinds), p=probs))]
        if kind in ("pop", "chirp"):
            wave, f0, n_pulses = b.anemonefish_call(kind)
            label = ANEMONEFISH
        elif kind in ("grunt", "knock"):
            wave, f0, n_pulses = b.fish_sound(kind)
            label = BIOLOGICAL
        else:
            made = b.whistle()
            if made is None:
                t += cfg.min_gap_s
                continue
            wave, f0, n_pulses = made
            label = BIOLOGICAL
        if cfg.variety and rng.random() < 0.5:
            wave = b.multipath(wave)
        if t + wave.size / sr > cfg.duration_s - 1.0:
            break
        onset = t
        t = onset + wave.size / sr + cfg.min_gap_s + rng.exponential(1.0 / total_rate)
        snr = cfg.snr_db if cfg.snr_db is not None else float(rng.uniform(*cfg.snr_range_db))
        start = int(round(onset * sr))
        end = min(b.n, start + wave.size)
        wave = wave[: end - start]
        # Whistles live above the SNR band: measure them over their own band instead.
        call_band = band if label == ANEMONEFISH or kind != "whistle" else (2500.0, 0.5 * sr)
        p_call = _band_power(wave, sr, call_band)
        ctx = slice(max(0, start - sr // 2), min(b.n, end + sr // 2))
        p_noise = _band_power(background[ctx], sr, call_band)
        if p_call <= 0:
            continue
        gain = math.sqrt(p_noise * 10 ** (snr / 10.0) / p_call)
        event = SynthEvent(
            start=round(start / sr, 6),
            end=round(end / sr, 6),
            label=label,
            kind=kind,
            snr_db=round(snr, 3),
            f0=round(f0, 2),
            n_pulses=n_pulses,
        )
        placed.append((start, gain * wave, event))
    for start, wave, event in placed:
        labelled[start : start + wave.size] += wave
        events.append(event)

    x = background + labelled
    if cfg.variety and rng.random() < 0.5:
        x += rng.uniform(-1.0, 1.0) * np.std(x)  # many recorders have a DC offset
    peak = float(np.max(np.abs(x))) or 1.0
    gain = cfg.peak / peak
    if cfg.variety:
        gain *= 10 ** (rng.uniform(-20.0, 0.0) / 20.0)  # recordings come at many levels
    signal = (x * gain).astype(np.float32)
    return Soundscape(
        signal=signal,
        sample_rate=sr,
        events=events,
        seed=seed,
        config=cfg,
        background=background if keep_parts else None,
        foreground=labelled if keep_parts else None,
    )


# Longer recordings are written as consecutive soundscapes of at most this length: a
# soundscape is built whole in memory (float64 per component, and whole-length FFTs: 4.4 GB
# for the demo's 8 minutes at 48 kHz, measured once, 3.5 GB of it the FFT of its boat's noise,
# whose 20.8 M samples are a prime, so pocketfft takes Bluestein's padded route), so one hour
# in one piece would need about 30 GB (by that figure, not measured); 10 minutes keep the
# 8-minute demo whole. The lengths stay as they are: other ones would change every soundscape
# with a boat, and the shipped model's training data with them.
LONG_PART_S = 600.0
# The most sample bytes a plain WAV holds (its chunk sizes are 32-bit, less the header's).
WAV_MAX_DATA_BYTES = 2**32 - 1 - 1024


def write_recording(
    config: SynthConfig, seed: int | list[int], out_dir: str | Path, name: str, subtype: str = "PCM_24",
    part_s: float = LONG_PART_S,
) -> tuple[Path, Path, list[SynthEvent]]:
    """Synthesize and write ``name.wav`` and its truth table, in bounded memory for any duration.

    Up to ``part_s`` this is ``write_soundscape(synthesize(config, seed), ...)``, sample for
    sample. A longer recording is a run of equal parts of at most ``part_s``, each its own
    soundscape (seed ``[*seed, part]``: its own level, background and call rates, as a
    recorder's hours differ), written one at a time; its truth is theirs, shifted to the
    part's start. No labelled sound crosses a part's edge (a soundscape keeps its first and
    last second free of them). Past 4 GB of samples (8 h at 48 kHz, 24-bit) the file is
    written as RF64, since a WAV's sizes are 32-bit. Nothing is half-written: the files
    appear when complete.
    """
    parts = max(1, math.ceil(config.duration_s / part_s - 1e-9))
    if parts == 1:
        scape = synthesize(config, seed=seed)
        wav, table = write_soundscape(scape, out_dir, name, subtype)
        return wav, table, scape.events
    sr = config.sample_rate
    total = int(round(config.duration_s * sr))
    edges = [round(i * total / parts) for i in range(parts + 1)]
    base = [int(seed)] if isinstance(seed, numbers.Integral) else list(seed)
    # A WAV's sizes are 32-bit: past 4 GB of samples the file is RF64 (any WAV reader of note
    # reads it; libsndfile knows it by its header whatever the name).
    container = "RF64" if total * SAMPLE_BYTES.get(subtype, 8) > WAV_MAX_DATA_BYTES else "WAV"

    def fill(sink: Any) -> list[SynthEvent]:
        events: list[SynthEvent] = []
        for part, (lo, hi) in enumerate(zip(edges, edges[1:])):
            scape = synthesize(config.model_copy(update={"duration_s": (hi - lo) / sr}), seed=[*base, part])
            sink.write(scape.signal[: hi - lo])
            offset = lo / sr
            events += [e.model_copy(update={"start": round(e.start + offset, 6), "end": round(e.end + offset, 6)})
                       for e in scape.events]
            del scape
        return events

    return _write_staged(out_dir, name, sr, subtype, container, fill)


def soundscape_seed(base_seed: int, index: int) -> list[int]:
    """Seed of soundscape ``index`` in a set made from ``base_seed`` (distinct streams)."""
    return [int(base_seed), int(index)]


def write_soundscape(
    scape: Soundscape, out_dir: str | Path, name: str, subtype: str = "PCM_24"
) -> tuple[Path, Path]:
    """Write ``name.wav`` and its truth ``name.Table.1.selections.txt`` (Raven) to ``out_dir``.

    Files are written to a temporary name and renamed, so nothing is ever half-written.
    """
    def fill(sink: Any) -> list[SynthEvent]:
        sink.write(scape.signal)
        return scape.events

    wav, table, _ = _write_staged(out_dir, name, scape.sample_rate, subtype, "WAV", fill)
    return wav, table


def _write_staged(
    out_dir: str | Path, name: str, sample_rate: int, subtype: str, container: str,
    fill: Callable[[Any], list[SynthEvent]],
) -> tuple[Path, Path, list[SynthEvent]]:
    """``name.wav`` (``fill`` writes its samples and returns its truth) and the truth's Raven
    table, both written under temporary names and renamed when complete; none left on failure."""
    import soundfile as sf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wav, table = out / f"{name}.wav", out / f"{name}.Table.1.selections.txt"
    tmp_wav, tmp_table = out / f".{name}.wav.part", out / f".{name}.txt.part"
    try:
        with sf.SoundFile(tmp_wav, "w", sample_rate, 1, subtype, format=container) as sink:
            events = fill(sink)
        tmp_table.write_text(raven_truth_table(events, wav.name), encoding="utf-8")
        tmp_wav.replace(wav)
        tmp_table.replace(table)
    finally:
        tmp_wav.unlink(missing_ok=True)
        tmp_table.unlink(missing_ok=True)
    return wav, table, events


# Frequency box of each kind in the Raven table (Hz), for people who open it in Raven.
def _freq_box(event: SynthEvent) -> tuple[float, float]:
    if event.kind == "whistle":
        return 2500.0, 20000.0
    return max(0.0, 0.7 * event.f0), 2.3 * event.f0


def raven_truth_table(events: list[SynthEvent], begin_file: str) -> str:
    """Raven selection table of the truth, with SNR, f0 and call type as extra columns.

    Written here rather than through ``anemonefish.formats`` because the truth carries
    columns (kind, SNR, f0, pulses) that detection documents do not have; the leading
    columns are Raven's standard ones, so any Raven table reader reads it.
    """
    header = [
        "Selection", "View", "Channel", "Begin Time (s)", "End Time (s)",
        "Low Freq (Hz)", "High Freq (Hz)", "Begin File", "Annotation",
        "Kind", "SNR (dB)", "F0 (Hz)", "Pulses",
    ]  # fmt: skip
    from anemonefish.formats import tsv_cell  # a tab in the name would shift every column after it

    lines = ["\t".join(header)]
    for i, e in enumerate(sorted(events, key=lambda ev: ev.start), start=1):
        lo, hi = _freq_box(e)
        row = [
            str(i), "Spectrogram 1", "1", f"{e.start:.6f}", f"{e.end:.6f}", f"{lo:.1f}",
            f"{hi:.1f}", tsv_cell(begin_file), e.label, e.kind, f"{e.snr_db:.2f}", f"{e.f0:.1f}", str(e.n_pulses),
        ]  # fmt: skip
        lines.append("\t".join(row))
    return "\n".join(lines) + "\n"
