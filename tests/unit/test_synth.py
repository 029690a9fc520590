"""The synthetic soundscape generator: determinism, truth, in-band SNR and files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
from pydantic import ValidationError

from anemonefish.formats import read_annotations
from anemonefish.synth import SynthConfig, _band_power, soundscape_seed, synthesize, write_recording, write_soundscape

SHORT = SynthConfig(duration_s=20.0, sample_rate=16000, anemonefish_per_min=20.0, biological_per_min=10.0)


def test_same_seed_same_soundscape_and_other_seed_differs():
    a = synthesize(SHORT, seed=[3, 0])
    b = synthesize(SHORT, seed=[3, 0])
    c = synthesize(SHORT, seed=[3, 1])
    assert np.array_equal(a.signal, b.signal)
    assert a.events == b.events
    assert not np.array_equal(a.signal, c.signal)
    assert a.signal.dtype == np.float32
    assert len(a.signal) == 20 * 16000


def test_truth_follows_the_published_call_figures():
    events = []
    for index in range(6):
        scape_events = synthesize(SHORT, seed=soundscape_seed(7, index)).events
        for first, second in zip(scape_events, scape_events[1:]):
            assert second.start - first.end >= SHORT.min_gap_s - 1e-6  # separable sounds
        events += scape_events
    fish = [e for e in events if e.label == "anemonefish"]
    assert len(fish) >= 10
    for e in fish:
        assert 370.0 <= e.f0 <= 900.0
        assert (1 <= e.n_pulses <= 2) if e.kind == "pop" else (3 <= e.n_pulses <= 8)
        # 1-8 pulses, 25-50 ms apart (with jitter), each 10-40 ms long
        assert 0.008 < e.end - e.start < 0.5
    others = [e for e in events if e.label != "anemonefish"]
    assert others and {e.label for e in others} == {"biological"}
    assert all(0 <= e.start < e.end <= SHORT.duration_s for e in events)


@pytest.mark.parametrize("snr_db", [-6.0, 0.0, 10.0])
def test_every_call_is_scaled_to_the_requested_in_band_snr(snr_db):
    config = SHORT.model_copy(update={"snr_db": snr_db})
    scape = synthesize(config, seed=11, keep_parts=True)
    sr = scape.sample_rate
    assert scape.events
    for e in scape.events:
        if e.kind == "whistle":
            continue
        start, end = round(e.start * sr), round(e.end * sr)
        call = _band_power(scape.foreground[start:end], sr, config.snr_band_hz)
        noise = _band_power(scape.background[max(0, start - sr // 2) : end + sr // 2], sr, config.snr_band_hz)
        assert 10 * math.log10(call / noise) == pytest.approx(snr_db, abs=0.05)
        assert e.snr_db == snr_db


@pytest.mark.parametrize("f0_hz", [(370.0, 900.0), (1000.0, 1500.0)])
def test_anemonefish_energy_sits_at_the_annotated_f0(f0_hz):
    """Also where a site's smaller fish call higher than the published 370-900 Hz."""
    scape = synthesize(SHORT.model_copy(update={"snr_db": 10.0, "anemonefish_f0_hz": f0_hz}), seed=5, keep_parts=True)
    sr = scape.sample_rate
    assert scape.labelled("anemonefish") and all(f0_hz[0] <= e.f0 <= f0_hz[1] for e in scape.labelled("anemonefish"))
    for e in scape.labelled("anemonefish"):
        seg = scape.foreground[round(e.start * sr) : round(e.end * sr)]
        n = 1 << 15
        spectrum = np.abs(np.fft.rfft(seg, n))
        peak = np.fft.rfftfreq(n, 1 / sr)[np.argmax(spectrum)]
        assert abs(peak - e.f0) < 0.15 * e.f0


def test_band_power_matches_the_time_domain_power_of_a_tone():
    sr = 8000
    t = np.arange(sr) / sr
    tone = np.sin(2 * np.pi * 500 * t)
    assert _band_power(tone, sr, (200, 2000)) == pytest.approx(0.5, rel=0.02)
    assert _band_power(tone, sr, (1000, 2000)) < 1e-3


def test_written_files_hold_the_signal_and_a_raven_table_of_the_truth(tmp_path):
    scape = synthesize(SHORT, seed=2)
    wav, table = write_soundscape(scape, tmp_path, "reef")
    data, sr = sf.read(wav, dtype="float32")
    assert sr == 16000 and len(data) == len(scape.signal)
    assert np.max(np.abs(data - scape.signal)) < 1e-5  # 24-bit PCM
    assert table.name == "reef.Table.1.selections.txt"
    read = read_annotations(table)
    assert [(round(e.start, 4), round(e.end, 4), e.label) for e in read] == [
        (round(e.start, 4), round(e.end, 4), e.label) for e in sorted(scape.events, key=lambda e: e.start)
    ]
    assert not list(tmp_path.glob(".*part"))


def test_a_long_recording_is_written_part_by_part_with_its_truth_shifted(tmp_path, monkeypatch):
    """A soundscape is built whole in memory (about 30 GB for an hour at 48 kHz, by the demo's measured 4.4 GB for 8 minutes), so a longer one is
    written as parts, each built, written and dropped before the next."""
    import anemonefish.synth as synth

    built = []
    real = synth.synthesize
    monkeypatch.setattr(synth, "synthesize", lambda config, seed: built.append((config.duration_s, seed)) or real(config, seed))
    config = SHORT.model_copy(update={"duration_s": 25.0})
    wav, table, events = write_recording(config, [4, 1], tmp_path, "long", part_s=10.0)
    # 25 s in parts of at most 10 s: three equal parts (to the sample), each its own seed
    edges = [0, 133333, 266667, 400000]
    assert built == [((hi - lo) / 16000, [4, 1, p]) for p, (lo, hi) in enumerate(zip(edges, edges[1:]))]
    data, sr = sf.read(wav, dtype="float32")
    assert len(data) == 25 * 16000
    truth = [(round(e.start, 4), round(e.end, 4), e.label) for e in read_annotations(table)]
    expected = []
    for part, (lo, hi) in enumerate(zip(edges, edges[1:])):
        alone = real(config.model_copy(update={"duration_s": (hi - lo) / sr}), [4, 1, part])
        assert np.max(np.abs(data[lo:hi] - alone.signal)) < 1e-5  # the part's own samples, in place
        expected += [(round(e.start + lo / sr, 4), round(e.end + lo / sr, 4), e.label) for e in alone.events]
    assert truth == expected and len(expected) >= 5 and len(events) == len(expected)
    assert all(e.start >= lo / sr + 1.0 - 1e-6 or e.end <= lo / sr for e in events for lo in edges[1:-1])
    assert not list(tmp_path.glob(".*part"))
    # Past what a WAV's 32-bit sizes hold it is RF64, the same samples; numpy seeds work too.
    monkeypatch.setattr(synth, "WAV_MAX_DATA_BYTES", 25 * 16000 * 3 - 1)
    wav, _, again = write_recording(config, np.array([4, 1]), tmp_path, "big", part_s=10.0)
    assert sf.info(wav).format == "RF64" and np.array_equal(sf.read(wav, dtype="float32")[0], data)
    assert again == events
    assert write_recording(config, np.int64(7), tmp_path, "npseed", part_s=10.0)[2] == write_recording(
        config, 7, tmp_path, "intseed", part_s=10.0)[2]
    # Up to one part it is the plain soundscape, sample for sample.
    built.clear()
    wav, _, events = write_recording(SHORT, 2, tmp_path, "short", part_s=20.0)
    assert built == [(20.0, 2)] and np.array_equal(sf.read(wav, dtype="float32")[0], sf.read(write_soundscape(real(SHORT, 2), tmp_path, "ref")[0], dtype="float32")[0])


def test_a_write_that_fails_leaves_nothing_behind(tmp_path, monkeypatch):
    """The samples are staged, then the table: a failure between them left the staged WAV."""
    import anemonefish.synth as synth

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(synth, "raven_truth_table", broken)
    with pytest.raises(OSError, match="disk full"):
        write_soundscape(synthesize(SHORT, seed=2), tmp_path, "reef")
    assert list(tmp_path.iterdir()) == []


def test_synth_help_states_the_part_length():
    """The help names it by hand (the CLI does not import the generator to start)."""
    import argparse

    from anemonefish.synth import LONG_PART_S
    from anemonefish_services.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    duration = next(a for a in commands.choices["synth"]._actions if a.dest == "duration")
    assert f"beyond {LONG_PART_S:g} s" in duration.help and f"at most {LONG_PART_S:g} s" in duration.help


def test_bad_configs_are_rejected_with_the_field_named():
    with pytest.raises(ValidationError, match="snr_band_hz"):
        SynthConfig(snr_band_hz=(2000.0, 200.0))
    with pytest.raises(ValidationError, match="duration_s"):
        SynthConfig(duration_s=0.1)
    with pytest.raises(ValidationError, match="anemonefish_f0_hz"):
        SynthConfig(sample_rate=4000, anemonefish_f0_hz=(1000.0, 2500.0))  # above what 4 kHz holds


def test_synth_command_writes_count_soundscapes(tmp_path, capsys):
    from anemonefish_services.cli import main

    assert main(["synth", str(tmp_path), "--duration", "4", "--count", "2", "--seed", "9", "--sample-rate", "8000", "--snr-db", "3"]) == 0
    wavs = sorted(tmp_path.glob("*.wav"))
    assert [w.name for w in wavs] == ["soundscape_9_0.wav", "soundscape_9_1.wav"]
    assert sf.info(wavs[0]).samplerate == 8000
    assert sf.info(wavs[0]).duration == pytest.approx(4.0)
    tables = sorted(tmp_path.glob("*.selections.txt"))
    assert len(tables) == 2
    expected = synthesize(SynthConfig(duration_s=4, sample_rate=8000, snr_db=3), seed=soundscape_seed(9, 1))
    assert len(read_annotations(tables[1])) == len(expected.events)
    # A rerun would replace the truth tables (perhaps corrected by hand): refused, nothing written.
    tables[0].write_text("corrected by hand\n")
    wavs[1].unlink()
    assert main(["synth", str(tmp_path), "--duration", "4", "--count", "2", "--seed", "9", "--sample-rate", "8000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {wavs[0]}, {tables[0]}, {tables[1]} exist(s); not replacing (--overwrite replaces them)")
    assert tables[0].read_text() == "corrected by hand\n" and not wavs[1].exists()
    assert main(["synth", str(tmp_path), "--duration", "4", "--count", "2", "--seed", "9", "--sample-rate", "8000",
                 "--snr-db", "3", "--overwrite"]) == 0
    assert wavs[1].exists() and len(read_annotations(tables[0])) == len(
        synthesize(SynthConfig(duration_s=4, sample_rate=8000, snr_db=3), seed=soundscape_seed(9, 0)).events)
    assert main(["synth", str(tmp_path), "--count", "0"]) == 2
    capsys.readouterr()
    assert main(["synth", str(tmp_path / "short"), "--duration", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: --duration: ")  # the option, not the field duration_s


def test_knocks_ring_in_the_fish_band_under_a_broadband_crack():
    """Knocks are the hard negatives that mimic a pulse: a low-Q ring anywhere in 80-1000 Hz,
    but with a crack across the whole band at its onset, which a jaw-slam pulse lacks."""
    config = SHORT.model_copy(update={"anemonefish_per_min": 30.0, "whistles_per_min": 0.0, "biological_per_min": 30.0,
                                      "duration_s": 120.0, "snr_db": 10.0})
    scape = synthesize(config, seed=11, keep_parts=True)
    sr = scape.sample_rate

    def crack_ratio(e) -> float:  # power at 3-8 kHz over power at 80-1000 Hz, first 2 ms
        head = scape.foreground[round(e.start * sr) : round(e.start * sr) + round(0.002 * sr)]
        return _band_power(head, sr, (3000.0, 8000.0)) / _band_power(head, sr, (80.0, 1000.0))

    knocks = [e for e in scape.events if e.kind == "knock"]
    calls = scape.labelled("anemonefish")
    assert len(knocks) >= 5 and len(calls) >= 5
    assert max(e.f0 for e in knocks) > 500.0  # rings reach into the anemonefish band
    assert all(80.0 <= e.f0 <= 1000.0 for e in knocks)
    assert np.median([crack_ratio(e) for e in knocks]) > 10 * np.median([crack_ratio(e) for e in calls])


def _boat_on_whole_arrays(builder) -> np.ndarray:  # noqa: ANN001
    """The boat as first written, on whole-recording arrays: what the sliced one must reproduce
    exactly (the shipped model's training soundscapes are drawn with it)."""
    from anemonefish.synth import _coloured_noise

    rng, sr = builder.rng, builder.sr
    out = np.zeros(builder.n)
    centre = rng.uniform(-0.5, 1.5) * builder.cfg.duration_s
    sigma = rng.uniform(30.0, 120.0)
    t_all = np.arange(builder.n) / sr
    env = np.exp(-0.5 * ((t_all - centre) / sigma) ** 2)
    active = np.nonzero(env > 1e-3)[0]
    if active.size == 0:
        return out
    sl = slice(active[0], active[-1] + 1)
    t = t_all[sl]
    f1 = rng.uniform(8.0, 60.0)
    drift = 1.0 + 0.02 * np.sin(2 * np.pi * t / rng.uniform(20.0, 90.0) + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(f1 * drift) / sr
    n_harm = int(min(30, max(1, min(1000.0, 0.45 * sr) // f1)))
    z = np.exp(1j * phase)
    power = z.copy()
    accum = np.zeros(t.size, dtype=np.complex128)
    for k in range(1, n_harm + 1):
        accum += (rng.uniform(0.3, 1.0) / k**0.7 * np.exp(1j * rng.uniform(0, 2 * np.pi))) * power
        power *= z
    tones = accum.imag
    tones /= np.std(tones) + 1e-12
    broadband = _coloured_noise(rng, t.size, sr, rng.uniform(0.5, 1.5), f_lo=50.0)
    blade = 1.0 + 0.5 * np.sin(phase * rng.integers(2, 6))
    level = 10 ** (rng.uniform(0.0, 20.0) / 20.0)
    out[sl] = level * env[sl] * (tones + rng.uniform(0.5, 2.0) * broadband * blade)
    return out


# 400 s at 4 kHz: 1.6 M samples (more than one slice of tones). With these seeds the boat
# passes the whole recording (1), starts inside it (0, 4) or ends inside it (2, 11).
@pytest.mark.parametrize("seed", [0, 1, 2, 4, 11])
def test_the_boat_built_in_slices_is_the_boat_built_whole(seed):
    from anemonefish.synth import _Builder

    config = SynthConfig(duration_s=400.0, sample_rate=4000)
    sliced = _Builder(config, np.random.default_rng(seed)).boat()
    whole = _boat_on_whole_arrays(_Builder(config, np.random.default_rng(seed)))
    assert np.any(sliced) and np.array_equal(sliced, whole)
