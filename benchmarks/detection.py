"""Speed, memory and cold-start benchmarks of offline detection (issue: detection core).

Each measurement runs in a fresh subprocess so peak RSS and import costs are the
command's own. Test recordings are generated once into ``benchmarks/.cache``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

CACHE = Path(__file__).parent / ".cache"
THREAD_VARS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# The command runs as a user's shell would start it, without these (the Makefile exports
# them): the CLI must limit numpy's threads itself. The worker's image and Lambda set them.
COMMAND_ENV = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
WORKER_ENV = {**COMMAND_ENV, **THREAD_VARS}


def reef_recording(seconds: float, sample_rate: int = 48000) -> Path:
    """A 16-bit mono WAV of the given length: synthetic reef noise with calls, written in chunks."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"reef_{int(seconds)}s_{sample_rate}.wav"
    if path.exists():
        return path
    from anemonefish import synth

    chunk_s = 60.0
    tmp = path.with_suffix(".tmp.wav")
    with sf.SoundFile(tmp, "w", sample_rate, 1, "PCM_16") as out:
        written = 0.0
        index = 0
        while written < seconds:
            length = min(chunk_s, seconds - written)
            scape = synth.synthesize(synth.SynthConfig(duration_s=max(length, 1.0), sample_rate=sample_rate), seed=[90_000, index])
            out.write(np.clip(scape.signal, -1, 1))
            written += length
            index += 1
    tmp.rename(path)
    return path


def _peak_rss_of(args: list[str]) -> int:
    """Peak RSS (MB) of ``anemonefish ARGS`` in a fresh interpreter, as the child itself reports it."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork+exec, so a child would
    # report this (large, audio-generating) parent's peak instead of its own.
    code = (
        "import sys; sys.argv = sys.argv[1:];"
        "from anemonefish_services.cli import main; rc = main(sys.argv[1:]);"
        "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'));"
        "print('PEAK_RSS_KB', hwm.split()[1], file=sys.stderr); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code, "anemonefish", *args], capture_output=True, text=True, env=COMMAND_ENV)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    line = next(l for l in proc.stderr.splitlines() if l.startswith("PEAK_RSS_KB"))
    return int(line.split()[1]) // 1024


def detect_once(path: Path, repeats: int = 3) -> dict[str, float]:
    """Best of ``repeats`` runs of ``anemonefish detect`` (whole command) plus the detector's own time."""
    with tempfile.TemporaryDirectory() as out:
        # The same -o each run: the repeats replace the first run's result on purpose.
        args = ["detect", str(path), "-o", out, "-q", "--format", "json", "--overwrite"]
        walls, inner = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "anemonefish_services.cli.detect", *args[1:]],
                                  capture_output=True, text=True, env=COMMAND_ENV)
            walls.append(time.perf_counter() - start)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-2000:])
            doc = json.loads(next(Path(out).glob("*.events.json")).read_text())
            inner.append(doc["processing_time_s"])
        rss = _peak_rss_of(args)
    duration = doc["audio"]["duration_s"]
    return {
        "audio_s": round(duration, 1),
        "command_wall_s": round(min(walls), 3),
        "detector_s": round(min(inner), 3),
        "x_real_time_command": round(duration / min(walls), 1),
        "x_real_time_detector": round(duration / min(inner), 1),
        "peak_rss_mb": rss,
        "events": len(doc["events"]),
    }


def cold_start(repeats: int = 5) -> dict[str, float]:
    """Import of the worker's detection path plus model load, in a fresh interpreter."""
    code = (
        "import time; t = time.perf_counter();"
        "from anemonefish.model import load_bundle; from anemonefish.detect import Detector;"
        "from anemonefish.formats import render_document;"
        "Detector(load_bundle()); print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=WORKER_ENV, check=True)
        times.append(float(proc.stdout.strip().splitlines()[-1]))
    tf_loaded = subprocess.run(
        [sys.executable, "-c", code.replace("print(time.perf_counter() - t)", "import sys; print('tensorflow' in sys.modules)")],
        capture_output=True, text=True, env=WORKER_ENV, check=True,
    ).stdout.strip().splitlines()[-1]
    return {"import_and_load_s_median": round(float(np.median(times)), 3), "import_and_load_s_max": round(max(times), 3),
            "tensorflow_imported": tf_loaded == "True"}


def run() -> dict[str, object]:
    results: dict[str, object] = {"cold_start": cold_start()}
    for name, seconds in (("seed_489s", 489.0), ("ten_minutes", 600.0), ("one_hour", 3600.0), ("two_hours", 7200.0)):
        path = reef_recording(seconds)
        results[name] = detect_once(path, repeats=3 if seconds <= 3600 else 1)
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
