"""What fine-tuning buys at a site unlike the training data (``train --init-from``, ``model retune --data``).

No labelled anemonefish recordings can be had here, so the site is synthetic, shifted where
the sounds page says sites differ: its fish are smaller than the 55-130 mm the published
370-900 Hz covers, so they call at 1000-1500 Hz, which the shipped model never heard. Its
labelled recordings are split three ways (seeds of their own): 20 minutes to fine-tune on,
10 held out to choose the threshold on, and 20 to score. The commands run as a user runs
them; the three models are scored alike on the test minutes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(__file__).parent / ".cache" / "finetune"
SITE = {"duration_s": 60.0, "sample_rate": 32000, "snr_range_db": (-3.0, 10.0), "anemonefish_per_min": 10.0,
        "anemonefish_f0_hz": (1000.0, 1500.0)}
SPLITS = {"train": (778001, 20), "val": (778003, 10), "test": (778002, 20)}
VALIDATION_SOUNDSCAPES = 6
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _site() -> Path:
    from anemonefish.synth import SynthConfig, synthesize, write_soundscape

    folder = CACHE / "site"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for split, (seed, count) in SPLITS.items():
        for index in range(count):
            write_soundscape(synthesize(SynthConfig(**SITE), seed=[seed, index]), folder / split, f"site{index:02d}")
    (folder / "done").write_text("")
    return folder


def _anemonefish(*args: str) -> float:
    started = time.perf_counter()
    # The installed command, as a user runs it (``anemonefish`` beside this interpreter).
    command = Path(sys.executable).with_name("anemonefish")
    subprocess.run([str(command), *args], check=True, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _score(bundle: Path | None, test: Path) -> dict[str, float]:
    from anemonefish.detect import Detector
    from anemonefish.evaluate import combine, evaluate_events
    from anemonefish.formats import read_annotations
    from anemonefish.model import load_bundle
    from benchmarks.quality import f1_interval

    detector = Detector(load_bundle(bundle))
    per_file = [evaluate_events(detector.run(wav).events, read_annotations(wav.with_name(f"{wav.stem}.Table.1.selections.txt")))
                for wav in sorted(test.glob("*.wav"))]
    pooled = combine(per_file)
    # The quality suite's bootstrap over the test soundscapes (their counts paired).
    return {"f1": round(pooled.f1, 3), "f1_bootstrap": f1_interval(per_file),
            "precision": round(pooled.precision, 3), "recall": round(pooled.recall, 3),
            "calls": pooled.true_positives + pooled.false_negatives, "false_events": pooled.false_positives,
            "threshold": detector.default_params.threshold, "smoothing": detector.default_params.smoothing_windows}


def run() -> dict[str, object]:
    site = _site()
    work = CACHE / "models"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tuned, retuned = work / "tuned", work / "tuned-retuned"
    tune_s = _anemonefish("train", str(site / "train"), "--init-from", "shipped",
                          "--validation-soundscapes", str(VALIDATION_SOUNDSCAPES), "-o", str(tuned))
    shutil.copytree(tuned, retuned)
    retune_s = _anemonefish("model", "retune", str(retuned), "--data", str(site / "val"), "--write")
    return {
        "site": {**{k: list(v) if isinstance(v, tuple) else v for k, v in SITE.items()},
                 "minutes": {split: count for split, (_, count) in SPLITS.items()}},
        "fine_tune_s": round(tune_s, 1),
        "retune_s": round(retune_s, 1),
        "shipped": _score(None, site / "test"),
        "fine_tuned": _score(tuned, site / "test"),
        "fine_tuned_and_retuned": _score(retuned, site / "test"),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
