"""``make demo``: the whole async path on the embedded local stack, end to end."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from anemonefish_services.client.api import ApiClient
from anemonefish_services.client.submit import events_table, submit_files
from anemonefish_services.local.moto_server import free_port
from anemonefish_services.local.stack import local_up
from anemonefish_services.local.webhook_receiver import WebhookReceiver

SEED_DURATION_S = 489.0  # the seed team's 8-minute recording


def make_recording(out_dir: Path, duration_s: float = SEED_DURATION_S, seed: int = 7) -> tuple[Path, Path]:
    """A generated reef recording and its truth (Raven table of the calls planted in it)."""
    from anemonefish.synth import SynthConfig, write_recording

    # In parts past 10 minutes, so `demo --duration 7200` needs no more memory than the default.
    wav, table, _ = write_recording(SynthConfig(duration_s=duration_s, sample_rate=48000), seed, out_dir,
                                    "demo reef recording", subtype="PCM_16")
    return wav, table


def run_demo(
    outdir: Path,
    *,
    duration_s: float = SEED_DURATION_S,
    console: Console | None = None,
    stay_up: Callable[[], None] | None = None,
) -> int:
    """Run the demo; with ``stay_up``, keep the stack (and its console) running until it returns."""
    console = console or Console()
    # The generated recording is scratch (45 MB at the default length, GBs with --duration);
    # what the user keeps is the documents in ``outdir``.
    workdir = Path(tempfile.mkdtemp(prefix="anemonefish-demo-"))
    console.rule("[bold]anemonefish demo: the async pipeline on the local stack")
    started = time.monotonic()
    # Multipart above 32 MiB, in 8 MiB parts: the demo file goes up in parallel parts.
    stack = local_up(
        port=free_port(8080),  # the documented console address when it is free
        extra_env={"ANEMONEFISH_MULTIPART_THRESHOLD_BYTES": str(32 * 2**20), "ANEMONEFISH_MULTIPART_PART_BYTES": str(8 * 2**20)},
    )
    receiver = None
    try:
        console.print(f"local stack up in {time.monotonic() - started:.1f} s: API [cyan]{stack.api_url}[/] "
                      f"(console at {stack.api_url}/), AWS emulator {stack.endpoint_url}")
        client = ApiClient(stack.api_url, stack.api_key)
        # The receiver verifies with the tenant's own secret, read from the API as a user would.
        receiver = WebhookReceiver(client.webhook_secret()).start()
        console.print(f"webhook receiver on {receiver.url}")
        tick = time.monotonic()
        wav, truth = make_recording(workdir, duration_s)
        console.print(f"generated {wav.name!r}: {duration_s / 60:.1f} min, {wav.stat().st_size / 2**20:.1f} MiB "
                      f"in {time.monotonic() - tick:.1f} s")
        tick = time.monotonic()
        subs = submit_files(client, [wav], outdir, webhook_url=receiver.url, new=True, console=console)
        console.print(events_table(subs))
        sub = subs[0]
        if sub.status != "SUCCEEDED":
            console.print(f"[red]job {sub.job_id} ended {sub.status}: {sub.error}")
            return 1
        result = sub.job["result"]
        console.print(
            f"job {sub.job_id} SUCCEEDED: {result['events_count']} calls in {result['audio_duration_s']:.0f} s of audio; "
            f"detection {result['processing_time_s']:.2f} s, submit-to-results {time.monotonic() - tick:.1f} s"
        )
        for fmt, path in sub.documents.items():
            console.print(f"  {fmt:9s} {path}")
        score = _score_against_truth(sub.documents.get("json"), truth)
        if score:
            console.print(score)
        hooks = receiver.wait_for(1, timeout_s=30)
        for hook in hooks:
            console.print(f"webhook received at {receiver.url}: webhook-id {hook.headers.get('webhook-id')}, "
                          f"signature {'[green]verified[/] (standardwebhooks)' if hook.verified else '[red]INVALID[/]'}")
            console.print_json(hook.body)
        ok = bool(hooks) and all(h.verified for h in hooks)
        if stay_up is not None:
            console.rule("[bold]the local stack stays up: try the browser console")
            console.print(f"console  [cyan]{stack.api_url}/[/]  (API key: [bold]{stack.api_key}[/])")
            console.print(f"submit   ANEMONEFISH_API_URL={stack.api_url} ANEMONEFISH_API_KEY={stack.api_key} "
                          f".venv/bin/anemonefish submit FILE...", soft_wrap=True)
            console.print("Ctrl-C stops it.")
            stay_up()
        return 0 if ok else 1
    finally:
        if receiver is not None:
            receiver.stop()
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        console.print("local stack stopped")


def _score_against_truth(events_json: Path | None, truth: Path) -> str | None:
    """How the events compare with the calls the generator planted (the recording is synthetic)."""
    if events_json is None:
        return None
    from anemonefish.evaluate import evaluate_events
    from anemonefish.formats import read_annotations

    planted = read_annotations(truth)
    metrics = evaluate_events(read_annotations(events_json), planted)
    calls = sum(e.label == "anemonefish" for e in planted)
    return (f"against the {calls} calls planted in the recording (0.2 s onset collar): "
            f"precision {metrics.precision:.2f}, recall {metrics.recall:.2f}, F1 {metrics.f1:.2f}")
