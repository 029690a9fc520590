"""Reproducible training of the window classifier and writing of its bundle."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from anemonefish import __version__
from anemonefish.card import FrontEndConfig, ModelCard, Normalisation
from anemonefish.evaluate import ScoredRecording, best_threshold, threshold_sweep
from anemonefish.events import Event, onset_zone
from anemonefish.exceptions import AnnotationFormatError, ModelBundleError, TrainingError
from anemonefish.features import FeatureExtractor
from anemonefish.model import ModelBundle
from anemonefish.params import DetectionParams
from anemonefish.synth import ANEMONEFISH, BIOLOGICAL, MAX_SEED, Soundscape, SynthConfig, soundscape_seed, synthesize
from anemonefish.training.dataset import (
    DEFAULT_CLASSES,
    DatasetSpec,
    WindowSet,
    build_windows_and_spare_noise,
    concatenate,
    decode_like_detector,
    wav_in_memory,
)

Log = Callable[[str], None]
Scorer = Callable[[np.ndarray], np.ndarray]

# The post-processing the shipped model is tuned for (see the card's notes): the model
# marks the two windows whose centre slices hold a call's onset, so at most a short
# average (chosen on validation data) fits; a 5-window one would erase single calls.
DETECTION_DEFAULTS = {"smoothing_windows": 3, "min_event_s": 0.2, "min_gap_s": 0.1}
# Smoothing lengths tried with the threshold on the validation soundscapes.
SMOOTHING_CHOICES = (1, 2, 3, 5)
# Peak thresholds tried with each (None: off). Only near-certain single windows: on the
# development set a looser 0.9 found a few more pops but quintupled the false events on
# real sea noise, which the synthetic validation cannot see.
PEAK_CHOICES = (0.99, None)
# ``--init-from shipped``: the bundle installed with the package.
# TrainSpec fields that describe the network's shape, and those that set its front end (the
# FrontEndConfig fields of the same names); a bundle training continues from fixes both,
# retune needs neither.
ARCHITECTURE_FIELDS = ("width", "dense_units", "frequency_pool", "time_pool")
FRONT_END_FIELDS = ("image_height", "image_width", "n_fft", "hop_length", "fmin", "normalisation", "event_timing")
# Windows scored at once when mining hard negatives.
MINING_SLICE = 4096
# A trained model whose class probabilities vary less than this (standard deviation over
# this many training windows) answers the same for everything: it has not learned.
COLLAPSE_SAMPLE = 2048
COLLAPSE_SPREAD = 1e-3


class TrainSpec(BaseModel):
    """Everything that decides the trained weights (recorded in the card)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    seed: int = Field(1, ge=0, le=MAX_SEED, description="Seed of the weights (TensorFlow takes 0..2**32-1).")
    epochs: int = Field(15, ge=1)
    batch_size: int = Field(128, ge=8)
    learning_rate: float = Field(3e-3, gt=0)
    # Without a warm-up, seed 2's first epochs at the full rate left every window with the
    # same answer (loss stuck at 1.039); one epoch of warm-up trains it normally.
    warmup_epochs: float = Field(
        1.0, ge=0, description="Epochs over which the learning rate rises linearly from 0 before the cosine "
        "decay (0: start at the full rate)."
    )
    width: int = Field(8, ge=2, description="Filters of the first conv layer.")
    dense_units: int = Field(32, ge=2, description="Units of the dense layer that reads the last feature map.")
    frequency_pool: int = Field(
        2, ge=1, description="Frequency bins the first conv block pools into one (the others pool 2)."
    )
    time_pool: int = Field(2, ge=1, description="Frames the first conv block pools into one (the others pool 2).")
    image_height: int = 39
    image_width: int = 100
    # Front end (see the card's notes): a pulse's energy lies in its first 2-9 ms, so
    # 20 ms FFT frames every 10 ms (50 Hz bins), kept at native time resolution, hold it in
    # fewer, stronger cells than 40 ms frames did (measured in docs/benchmarks.md);
    # bins below fmin (DC offsets, engine fundamentals, flow noise) never reach the model.
    n_fft: int = Field(128, gt=0)
    hop_length: int = Field(64, gt=0)
    fmin: float = Field(100.0, ge=0)
    normalisation: Normalisation = Field("standardize", description="Per-window scaling (see FrontEndConfig.normalisation).")
    event_timing: str = Field("centre", pattern="^(centre|containment|overlap)$",
                              description="What a positive window means (see FrontEndConfig.event_timing).")
    dataset: DatasetSpec = DatasetSpec()
    mining_epochs: int = Field(
        4, ge=0, description="Epochs of a first model that picks hard negatives from the plain noise "
        "the random share left out (0 = no mining)."
    )
    mining_threshold: float = Field(
        0.2, gt=0, lt=1, description="Left-out noise windows that first model scores at least this "
        "anemonefish join the training set."
    )
    validation_soundscapes: int = Field(24, ge=0, description="Held-out soundscapes for the threshold.")
    validation_seed_offset: int = Field(
        100_000, description="Validation soundscapes use base seed seed+offset (never trained on)."
    )

    @model_validator(mode="after")
    def _front_end_is_valid(self) -> TrainSpec:
        # FrontEndConfig's own checks (n_fft against hop_length, fmin below fmax...), made when
        # the spec is, so a bad command line fails before any data is drawn.
        try:
            frontend_for(self)
        except ValidationError as exc:
            raise ValueError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
        return self


def frontend_for(spec: TrainSpec, base: FrontEndConfig | None = None) -> FrontEndConfig:
    base = base or FrontEndConfig()
    chosen = FrontEndConfig.model_validate({**base.model_dump(), **{f: getattr(spec, f) for f in FRONT_END_FIELDS}})
    return with_overlap_timed_fish_sounds(chosen)


def with_overlap_timed_fish_sounds(frontend: FrontEndConfig) -> FrontEndConfig:
    """``frontend`` as this training leaves it: window_labels marks other fish sounds by
    overlap, whatever the anemonefish timing, so their events must be placed so."""
    return frontend.model_copy(update={"class_event_timing": {**frontend.class_event_timing, BIOLOGICAL: "overlap"}})


def make_deterministic(seed: int) -> None:
    """Same seed, same weights: seeded Python/numpy/TF and deterministic kernels."""
    import tensorflow as tf

    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def sample_weights(data: WindowSet) -> np.ndarray:
    """Don't-care windows get 0; classes are balanced by inverse square-root frequency."""
    counts = np.bincount(data.labels, minlength=len(data.classes)).astype(np.float64)
    scale = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0)
    scale = scale / np.sum(scale * counts) * len(data.labels)
    return (data.weights * scale[data.labels]).astype(np.float32)


def learning_rate_schedule(spec: TrainSpec, steps_per_epoch: int) -> Any:
    """Cosine decay to 0 over the run, after a linear rise from 0 over ``warmup_epochs``."""
    import tensorflow as tf

    steps = spec.epochs * steps_per_epoch
    warmup = min(int(round(spec.warmup_epochs * steps_per_epoch)), steps - 1)
    if warmup <= 0:
        return tf.keras.optimizers.schedules.CosineDecay(spec.learning_rate, decay_steps=max(1, steps))
    return tf.keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - warmup, warmup_target=spec.learning_rate, warmup_steps=warmup
    )


def fit(spec: TrainSpec, data: WindowSet, log: Log = print, start: Path | None = None) -> Any:
    """Train the classifier on ``data`` (seeded, deterministic): a new one, or the Keras
    model saved at ``start`` further (fine-tuning; its architecture is kept)."""
    import tensorflow as tf

    from anemonefish.training.architecture import build_classifier

    make_deterministic(spec.seed)
    if start is not None:
        model = tf.keras.models.load_model(start, compile=False)
    else:
        model = build_classifier(
            data.images.shape[1:], len(data.classes), spec.width, spec.dense_units, spec.frequency_pool, spec.time_pool
        )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate_schedule(spec, int(np.ceil(len(data.labels) / spec.batch_size)))),
        loss="sparse_categorical_crossentropy",
        weighted_metrics=["accuracy"],
    )

    class _Log(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            log(f"epoch {epoch + 1}/{spec.epochs}: loss {logs.get('loss', 0):.4f} acc {logs.get('accuracy', 0):.4f}")

    model.fit(
        data.images,
        data.labels,
        sample_weight=sample_weights(data),
        batch_size=spec.batch_size,
        epochs=spec.epochs,
        shuffle=True,
        verbose=0,
        callbacks=[_Log()],
    )
    check_learned(model, data, spec)
    return model


def check_learned(model: Any, data: WindowSet, spec: TrainSpec) -> None:
    """Raise :class:`TrainingError` if the model gives every window the same answer.

    A run can collapse: with seed 2 and no warm-up (``warmup_epochs=0``) the mining model's
    loss stayed at 1.039 and its accuracy at 0.46 from the second epoch on, the same answer
    for every window. Mining then took the whole spare pool (125,326 windows) for hard
    negatives and the bundle would have been useless, so training stops here, at the first
    model. The warm-up prevents that case; this check still catches any other.
    """
    rng = np.random.default_rng(spec.seed)
    sample = np.sort(rng.choice(len(data), size=min(len(data), COLLAPSE_SAMPLE), replace=False))
    if len(np.unique(data.labels[sample][data.weights[sample] > 0])) < 2:
        return  # one class only (a tiny data set): the same answer everywhere is right
    probabilities = np.asarray(model.predict_on_batch(data.images[sample]))
    spread = float(np.max(np.std(probabilities, axis=0))) if np.all(np.isfinite(probabilities)) else 0.0
    if spread < COLLAPSE_SPREAD:
        raise TrainingError(
            f"training did not converge (seed {spec.seed}, learning rate {spec.learning_rate:g}): the model gives "
            f"every window the same probabilities (spread {spread:.1e}); try another --seed"
        )


def add_hard_negatives(
    spec: TrainSpec, data: WindowSet, spare_noise: WindowSet, log: Log = print, start: Path | None = None
) -> WindowSet:
    """Add the left-out noise windows that a briefly trained model mistakes for calls.

    Most plain noise is easy and a random share of it is enough; the windows that look
    like calls are rare in it. Adding them cut the real recording's false events from 2
    to 1 and raised precision at -6 dB from 0.81 to 0.88 (docs/benchmarks.md).
    """
    if spec.mining_epochs == 0 or len(spare_noise) == 0:
        return data
    probe = fit(spec.model_copy(update={"epochs": spec.mining_epochs}), data, log, start=start)
    fish = data.classes.index(ANEMONEFISH)
    # In slices: the pool is about twice the training set, and predict() on all of it at
    # once is where training on 600 soundscapes ran out of 24 GB.
    scores = np.concatenate([
        probe.predict_on_batch(spare_noise.images[i : i + MINING_SLICE])[:, fish]
        for i in range(0, len(spare_noise), MINING_SLICE)
    ])
    hard = spare_noise.subset(scores >= spec.mining_threshold)
    log(f"hard negatives: {len(hard)} of {len(spare_noise)} left-out noise windows score >= {spec.mining_threshold:g}")
    return concatenate([data, hard])


# Validation soundscapes cycle through these in-band SNRs (dB).
VALIDATION_SNRS = (10.0, 0.0, -6.0)


def _validation_soundscapes(spec: TrainSpec, snrs: tuple[float, ...]) -> Iterator[Soundscape]:
    base = spec.seed + spec.validation_seed_offset
    for index in range(spec.validation_soundscapes):
        snr = snrs[index % len(snrs)]
        cfg = SynthConfig(duration_s=spec.dataset.duration_s, sample_rate=32000, snr_db=snr, anemonefish_per_min=10.0)
        yield synthesize(cfg, seed=soundscape_seed(base, index))


def _truth(scape: Soundscape) -> list[Event]:
    return [Event(start=e.start, end=e.end, label=e.label) for e in scape.events]


def validation_recordings(spec: TrainSpec, frontend: FrontEndConfig, snrs: tuple[float, ...] = VALIDATION_SNRS) -> list[tuple[np.ndarray, list[Event], float]]:
    """Held-out soundscapes at fixed SNRs, cut at the detector's own stride: (images, truth, duration)."""
    extractor = FeatureExtractor(frontend)
    out = []
    for scape in _validation_soundscapes(spec, snrs):
        audio = decode_like_detector(scape.signal, scape.sample_rate, frontend, "PCM_24")
        images, _ = extractor.windows_from_signal(audio)
        out.append((images, _truth(scape), len(audio) / frontend.sample_rate))
    return out


def served_validation_recordings(bundle: ModelBundle, spec: TrainSpec, snrs: tuple[float, ...] = VALIDATION_SNRS) -> list[ScoredRecording]:
    """The same soundscapes scored by the detector as it serves ``bundle`` (a pair: both networks, gated)."""
    from anemonefish.detect import Detector

    detector = Detector(bundle)
    out = []
    for scape in _validation_soundscapes(spec, snrs):
        result = detector.run(wav_in_memory(scape.signal, scape.sample_rate, "PCM_24"))
        out.append(ScoredRecording(scores=result.scores, annotations=_truth(scape), duration_s=result.audio.duration_s))
    return out


def served_labelled_recordings(bundle: ModelBundle, folder: str | Path, log: Log = print) -> list[ScoredRecording]:
    """Each annotated channel of the labelled recordings below ``folder`` (as ``train DATA/``
    reads them), scored by the detector as it serves ``bundle``, with that channel's truth."""
    from anemonefish.detect import Detector
    from anemonefish.training.dataset import labelled_channels, labelled_pairs, named_by_path

    labelled = [(audio_path, channel, events) for audio_path, table in labelled_pairs(folder, log)
                for channel, events in labelled_channels(audio_path, table, list(bundle.classes), log).items()]
    if not any(e.label == ANEMONEFISH for _, _, events in labelled for e in events):
        # With no call to find, every setting scores F1 1 and the choice would mean nothing.
        raise AnnotationFormatError(f"{folder}: no {ANEMONEFISH!r} selection to choose a threshold on")
    detector = Detector(bundle)
    out = []
    for audio_path, channel, events in labelled:
        with named_by_path(audio_path):
            result = detector.run(audio_path, detector.default_params.model_copy(update={"channel": channel}))
        out.append(ScoredRecording(scores=result.scores, annotations=events, duration_s=result.audio.duration_s))
    log(f"labelled recordings in {folder}: {len(out)} recording channel(s) scored")
    return out


def choose_threshold(score: Scorer, spec: TrainSpec, frontend: FrontEndConfig, classes: list[str], log: Log = print) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pick smoothing, threshold and peak threshold by the event-level F1 on held-out soundscapes.

    ``score`` maps window images to class probabilities: the Keras model while training,
    the served LiteRT model when :func:`retune` re-chooses a bundle's defaults.
    """
    if spec.validation_soundscapes == 0:
        return {**DETECTION_DEFAULTS, "threshold": 0.5}, {}
    recordings = [
        ScoredRecording(scores=np.asarray(score(images)), annotations=truth, duration_s=duration)
        for images, truth, duration in validation_recordings(spec, frontend)
    ]
    return choose_defaults(recordings, frontend, classes, log)


def choose_defaults(recordings: list[ScoredRecording], frontend: FrontEndConfig, classes: list[str], log: Log = print) -> tuple[dict[str, Any], dict[str, Any]]:
    """The choice of :func:`choose_threshold` on recordings already scored."""
    best = None
    sweeps = {}
    for smoothing in SMOOTHING_CHOICES:
        for peak in PEAK_CHOICES:
            params = DetectionParams(**{**DETECTION_DEFAULTS, "smoothing_windows": smoothing, "peak_threshold": peak})
            points = threshold_sweep(recordings, classes, frontend, params)
            sweeps[smoothing, peak] = points
            point = best_threshold(points)
            log(f"validation, smoothing {smoothing}, peak threshold {peak}: best threshold {point.threshold:.2f} "
                f"F1 {point.f1:.3f} (P {point.precision:.3f} R {point.recall:.3f})")
            # ties go to the longer smoothing (steadier on real noise) and to no peak rule
            if best is None or point.f1 >= best[2].f1:
                best = (smoothing, peak, point)
    smoothing, peak, point = best
    # The peak rule always named, off as null: a card (and retune's print-out) that left it out
    # hid that a rule the previous defaults had was switched off.
    defaults = {**DETECTION_DEFAULTS, "smoothing_windows": smoothing, "threshold": point.threshold,
                "peak_threshold": peak}
    return defaults, {
        "validation_event_f1": point.f1,
        "validation_precision": point.precision,
        "validation_recall": point.recall,
        "validation_sweep": [p.model_dump() for p in sweeps[smoothing, peak]],
    }


def retune(
    bundle_dir: str | Path,
    validation_soundscapes: int | None = None,
    write: bool = False,
    log: Log = print,
    data_dir: str | Path | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Re-choose a bundle's detection defaults exactly as training does, with the served model.

    Makes :func:`choose_threshold`'s choice on the validation soundscapes the card's
    training spec names (for a card without a spec, such as an imported model's, the
    default spec's, none of which that model was trained on). They are scored by the
    detector as it serves the bundle: LiteRT, no TensorFlow, and a bundle with a verifier
    as the gated pair. With ``write`` the card's ``detection_defaults`` and validation
    metrics are replaced.

    With ``data_dir`` the choice is made on labelled recordings instead (read as
    ``train DATA/`` reads them): a site's own held-out recordings, for a model to be used
    there. Their metrics go into the card under ``recordings_*``, beside the synthetic
    validation's.
    """
    from anemonefish.model import load_bundle
    from anemonefish.training.export import update_card

    bundle = load_bundle(bundle_dir)
    if ANEMONEFISH not in bundle.classes:
        raise ModelBundleError(f"{bundle_dir}: the model has no {ANEMONEFISH!r} class to tune a threshold for")
    if data_dir is not None:
        scored = served_labelled_recordings(bundle, data_dir, log)
        defaults, metrics = choose_defaults(scored, bundle.card.frontend, bundle.classes, log)
        metrics = {"recordings": f"{len(scored)} recording channel(s) from {Path(data_dir).name}",
                   **{key.replace("validation_", "recordings_"): value for key, value in metrics.items()}}
        if write:
            update_card(bundle.path, detection_defaults=defaults, metrics=metrics)
        return defaults, metrics
    recorded = bundle.card.training.get("spec")
    # Only the validation soundscapes' settings are wanted: the front end is the bundle's own,
    # and a spec recorded from a bundle with another front end would not pass the default's checks.
    spec = TrainSpec.model_validate({k: v for k, v in recorded.items() if k not in FRONT_END_FIELDS}) if recorded else TrainSpec()
    count = validation_soundscapes if validation_soundscapes is not None else spec.validation_soundscapes
    if count < 1:
        raise ValueError("retuning needs at least one validation soundscape")
    spec = spec.model_copy(update={"validation_soundscapes": count})
    # Through the detector itself, so a bundle with a verifier is tuned as a pair.
    recordings = served_validation_recordings(bundle, spec)
    defaults, metrics = choose_defaults(recordings, bundle.card.frontend, bundle.classes, log)
    if write:
        update_card(bundle.path, detection_defaults=defaults, metrics=metrics)
    return defaults, metrics


NOTES = (
    "Window classifier for anemonefish (Amphiprion) pops and chirps, trained only on "
    "synthetic reef soundscapes (anemonefish.synth): 1/f ambient with random colour, "
    "band-limited hum, DC and gain, snapping shrimp, boats, fish grunts, knock trains and "
    "dolphin whistles as hard negatives, plus the plain-noise windows a first, briefly "
    "trained model mistook for calls (mined). Front end: {n_fft}-sample ({frame_ms:.0f} ms) FFT "
    "frames every {hop_ms:.0f} ms, matched to 10-40 ms pulses (longer frames dilute a pulse "
    "in more noise); {fmin:.0f}-{fmax:.0f} Hz, so DC offsets and engine fundamentals never "
    "reach the model. Native window {bins} bins x {frames} frames -> image {h}x{w}: "
    "{col_ms:.0f} ms columns still separate the 25-50 ms pulse trains, and {res:.0f} Hz rows "
    "place f0 (370-900 Hz) apart from lower fish sounds; the CNN costs "
    "~{macs:.1f} M multiply-adds per window (measured speed: docs/benchmarks.md). The model first removes each row's mean over time (stationary background) "
    "and, as a second view, each frame's mean over frequency (broadband clicks). The "
    "'anemonefish' class means 'a call starts in this window's onset zone' "
    "({zone_lo:.2f}-{zone_hi:.2f} s after the window start), which puts each event's start "
    "from 3/4 of a stride before to 1/4 after the call's onset; use this card's detection defaults (short "
    "smoothing and a threshold chosen on held-out soundscapes)."
)


def macs_per_window(model: Any) -> float:
    """Multiply-adds (millions) of one window through ``model``'s conv and dense layers (for the card's notes).

    Read from the built layers, so it cannot drift from the architecture.
    """
    import tensorflow as tf

    total = 0
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2D):
            kh, kw, c_in, filters = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            total += h * w * kh * kw * c_in * filters
        elif isinstance(layer, tf.keras.layers.Dense):
            total += layer.kernel.shape[0] * layer.kernel.shape[1]
    return total / 1e6


class StartingPoint(BaseModel):
    """A bundle whose network training continues from (fine-tuning): its front end,
    classes and architecture come with it."""

    model_config = ConfigDict(frozen=True)

    path: Path
    card: ModelCard
    named: str = Field(description="How it was asked for: 'shipped' or the folder as given.")

    @property
    def keras_file(self) -> Path:
        return self.path / self.card.files["keras"]

    @classmethod
    def of(cls, bundle_dir: str | Path) -> StartingPoint:
        """The bundle at ``bundle_dir`` (``shipped``: the one installed with the package, whatever
        ``ANEMONEFISH_MODEL_DIR`` says), or :class:`ModelBundleError` saying why it cannot be one."""
        from anemonefish.model import bundle_path, read_card

        path = bundle_path(bundle_dir)
        card = read_card(path)
        if "keras" not in card.files or not (path / card.files["keras"]).is_file():
            raise ModelBundleError(f"{bundle_dir}: no Keras model in the bundle to continue training from")
        if ANEMONEFISH not in card.classes:
            raise ModelBundleError(f"{bundle_dir}: the model has no {ANEMONEFISH!r} class to train")
        return cls(path=path, card=card, named=str(bundle_dir))

    def describe(self) -> dict[str, Any]:
        return {"name": self.card.name, "version": self.card.version, "created_at": self.card.created_at,
                "path": str(self.path)}

    def fix_spec(self, spec: TrainSpec) -> TrainSpec:
        """``spec`` with what this bundle fixes: its front end, and the architecture its own
        card records (so the new card says what was trained)."""
        frontend = self.card.frontend
        recorded = self.card.training.get("spec") or {}
        architecture = {field: recorded[field] for field in ARCHITECTURE_FIELDS if field in recorded}
        fixed = {field: getattr(frontend, field) for field in FRONT_END_FIELDS}
        fixed["image_height"], fixed["image_width"] = frontend.image_shape  # None in a card: the native size
        return spec.model_copy(update={**architecture, **fixed})


def _reproduce(spec: TrainSpec, synthetic: bool, data: bool, start: StartingPoint | None) -> str:
    """The command line that trains the same weights (given the same DATA and starting bundle)."""
    words = ["anemonefish train", *(["--synthetic"] if synthetic else []), *(["DATA"] if data else [])]
    if start is not None:
        words.append(f"--init-from {shlex.quote(start.named)}")
    words.append(
        f"--seed {spec.seed} --epochs {spec.epochs} --learning-rate {spec.learning_rate!r} "
        f"--mining-epochs {spec.mining_epochs} --soundscapes {spec.dataset.soundscapes} "
        f"--duration {spec.dataset.duration_s:g} --chirp-fraction {spec.dataset.chirp_fraction:g}"
    )
    if start is None:  # a starting point brings its own front end and architecture
        words.append(
            f"--image-size {spec.image_height}x{spec.image_width} --n-fft {spec.n_fft} --hop-length {spec.hop_length} "
            f"--frequency-pool {spec.frequency_pool} --time-pool {spec.time_pool} --width {spec.width} "
            f"--dense-units {spec.dense_units} --normalisation {spec.normalisation}"
        )
    words.append(f"--warmup-epochs {spec.warmup_epochs:g} --validation-soundscapes {spec.validation_soundscapes} -o BUNDLE_DIR")
    return " ".join(words)


def _notes_of_start(start: StartingPoint, synthetic: bool, data_dir: str | Path | None) -> str:
    data = " and ".join(
        ([f"labelled recordings from {Path(data_dir).name}"] if data_dir else []) + (["synthetic soundscapes"] if synthetic else [])
    )
    return (f"{start.card.name} {start.card.version} trained further on {data} (its weights, front end, classes "
            f"and architecture as the start). The starting model's notes: {start.card.notes}")


def fine_tune(
    out_dir: str | Path,
    spec: TrainSpec,
    start: StartingPoint,
    synthetic: bool = False,
    data_dir: str | Path | None = None,
    name: str = "anemonefish-cnn",
    version: str | None = None,
    log: Log = print,
    replace: bool = False,
) -> ModelCard:
    """Train ``start``'s network further (:func:`train` with ``start``); a pair, both networks.

    A pair (the shipped bundle) is worth more than either of its networks, so each is
    trained further on the same data with the same settings, each from its own weights and
    through its own front end, and the two are paired again with the start's gate. The
    pair's detection defaults are then chosen as served (gated mean), as ``model retune``
    does, on the validation soundscapes; with none, the start's own defaults are kept.
    """
    from anemonefish.model import read_card
    from anemonefish.training.export import attach_verifier, check_bundle_target

    # Told apart from the start by default: the same name, its version marked as trained further.
    version = version or tuned_version(start.card.version)
    if start.card.verifier is None:
        return train(out_dir, spec, synthetic=synthetic, data_dir=data_dir, name=name, version=version, log=log,
                     replace=replace, start=start)
    out = check_bundle_target(out_dir, replace)
    second = StartingPoint.of(start.path / start.card.verifier.path)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        # Neither network chooses its own defaults: the pair's are chosen below, as it is served.
        # The first network's card keeps the spec as asked (the pair's card is its), which
        # retune reads for the validation soundscapes.
        log("the start is a pair: training its first network, then its verifier")
        train(scratch / "first", spec, synthetic=synthetic, data_dir=data_dir, name=name, version=version, log=log,
              start=start, choose=False)
        train(scratch / "verifier", spec, synthetic=synthetic, data_dir=data_dir, name=f"{name}-verifier",
              version=version, log=log, start=second, choose=False)
        attach_verifier(scratch / "first", scratch / "verifier", out, gate=start.card.verifier.gate,
                        detection_defaults=dict(start.card.detection_defaults), replace=replace)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if spec.validation_soundscapes > 0:
        retune(out, write=True, log=log)
    return read_card(out)


def tuned_version(version: str) -> str:
    """The version of a bundle trained further from one of ``version``: ``0.2.0+tuned``, then
    ``0.2.0+tuned.2``, ``0.2.0+tuned.3``..., so each round can be told from the one before."""
    if version.endswith("+tuned"):
        return f"{version}.2"
    if (found := re.search(r"\+tuned\.(\d+)$", version)) is not None:
        return f"{version[: found.start()]}+tuned.{int(found.group(1)) + 1}"
    return f"{version}+tuned"


def train_synthetic(
    out_dir: str | Path,
    spec: TrainSpec | None = None,
    name: str = "anemonefish-cnn",
    version: str | None = None,
    base_frontend: FrontEndConfig | None = None,
    log: Log = print,
    replace: bool = False,
) -> ModelCard:
    """Train on synthetic soundscapes only (the shipped model)."""
    return train(out_dir, spec, synthetic=True, name=name, version=version, base_frontend=base_frontend, log=log,
                 replace=replace)


def train(
    out_dir: str | Path,
    spec: TrainSpec | None = None,
    synthetic: bool = True,
    data_dir: str | Path | None = None,
    name: str = "anemonefish-cnn",
    version: str | None = None,
    base_frontend: FrontEndConfig | None = None,
    log: Log = print,
    replace: bool = False,
    start: StartingPoint | None = None,
    choose: bool = True,
) -> ModelCard:
    """Build the synthetic dataset, train, pick the threshold, and write the bundle.

    ``out_dir`` is checked first (:func:`~anemonefish.training.export.check_bundle_target`:
    an existing bundle is replaced only with ``replace``), and labelled recordings are read
    before the synthetic set is drawn, so a bad folder fails in seconds, not at the end.

    With ``start`` training continues from that bundle's network (fine-tuning, say the
    shipped model on a reef's own labelled recordings): its front end, classes and
    architecture are kept, and ``spec``'s front-end and architecture fields are not used.
    Only its own network is trained; :func:`fine_tune` trains both networks of a pair.
    With ``choose=False`` the detection defaults are not chosen on the validation
    soundscapes (a pair's first network: the pair's are chosen once it is whole).
    """
    from anemonefish.training.dataset import windows_from_recordings
    from anemonefish.training.export import check_bundle_target, write_bundle

    spec = spec or TrainSpec()
    if start is not None:
        # Its front end, and what its windows of other fish sounds mean as this training labels them.
        frontend = with_overlap_timed_fish_sounds(start.card.frontend)
        classes = list(start.card.classes)
        spec = start.fix_spec(spec)
    else:
        frontend = frontend_for(spec, base_frontend)
        classes = list(DEFAULT_CLASSES)
    started = time.perf_counter()
    if not synthetic and data_dir is None:
        raise ValueError("nothing to train on: no synthetic data and no data folder")
    check_bundle_target(out_dir, replace)
    parts = []
    spare_noise = None
    if data_dir is not None:
        real = windows_from_recordings(
            data_dir, frontend, classes, spec.dataset.train_stride_s, spec.dataset.ignore_s, log,
            keep_noise=spec.dataset.keep_noise, seed=spec.dataset.seed,
        )
        parts.append(real)
    if synthetic:
        kept, spare_noise = build_windows_and_spare_noise(spec.dataset, frontend, classes)
        parts.insert(0, kept)
    data = concatenate(parts)
    if not np.any(data.labels == classes.index(ANEMONEFISH)):
        raise TrainingError(f"no {ANEMONEFISH!r} window to learn from in the training data")
    log(f"dataset: {len(data)} windows, per class {np.bincount(data.labels, minlength=len(classes)).tolist()} in {time.perf_counter() - started:.0f} s")
    begin = start.keras_file if start is not None else None
    if begin is not None:
        log(f"continuing from {start.card.name} {start.card.version} ({start.path})")
    if spare_noise is not None:
        data = add_hard_negatives(spec, data, spare_noise, log, start=begin)
        del spare_noise
    model = fit(spec, data, log, start=begin)
    scored = spec if choose else spec.model_copy(update={"validation_soundscapes": 0})
    defaults, metrics = choose_threshold(lambda images: model.predict(images, verbose=0), scored, frontend, classes, log)
    if start is not None and scored.validation_soundscapes == 0:
        defaults = dict(start.card.detection_defaults)  # nothing to choose them on: the start's own, as for a pair
    zone_lo, zone_hi = onset_zone(frontend)
    card = ModelCard(
        name=name,
        version=version or __version__,
        classes=classes,
        frontend=frontend,
        detection_defaults=defaults,
        training={
            "data": ("synthetic soundscapes (anemonefish.synth)" if synthetic else "")
            + (f"{' + ' if synthetic else ''}labelled recordings from {Path(data_dir).name}" if data_dir else ""),
            "spec": spec.model_dump(mode="json"),
            "windows": int(len(data)),
            "windows_per_class": dict(zip(classes, np.bincount(data.labels, minlength=len(classes)).tolist(), strict=True)),
            "seed": spec.seed,
            "soundscape_seeds": f"[{spec.dataset.seed}, i] for i in 0..{spec.dataset.soundscapes - 1}" if synthetic else None,
            "validation_seeds": f"[{spec.seed + spec.validation_seed_offset}, i] for i in 0..{spec.validation_soundscapes - 1}",
            "train_time_s": round(time.perf_counter() - started, 1),
            "reproduce": _reproduce(spec, synthetic, data_dir is not None, start),
            **({"started_from": start.describe()} if start is not None else {}),
        },
        metrics=metrics,
        notes=_notes_of_start(start, synthetic, data_dir) if start is not None else NOTES.format(
            n_fft=frontend.n_fft,
            frame_ms=1000 * frontend.n_fft / frontend.sample_rate,
            hop_ms=1000 * frontend.hop_length / frontend.sample_rate,
            fmin=frontend.fmin,
            fmax=frontend.fmax,
            bins=frontend.n_bins,
            frames=frontend.frames_per_window,
            h=spec.image_height,
            w=spec.image_width,
            col_ms=1000 * frontend.window_s / spec.image_width,
            res=(frontend.fmax - frontend.fmin) / spec.image_height,
            macs=macs_per_window(model),
            zone_lo=zone_lo,
            zone_hi=zone_hi,
        ),
    )
    write_bundle(model, card, out_dir, check_images=data.images[:64], replace=replace)
    log(f"wrote {out_dir} in {time.perf_counter() - started:.0f} s")
    return card
