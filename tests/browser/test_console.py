"""The console in a real headless Chromium against the local stack: multipart upload straight
to S3, live status, the result's events; resume after a reload; clear error messages."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests
from playwright.sync_api import Locator, Page, Request, Route, expect

JOB_TIMEOUT_MS = 300_000


def open_console(page: Page, stack, key: str | None = None, query: str = "") -> None:
    page.goto(stack.base_url + "/" + query)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.fill("#api-key", key or stack.api_key)
    page.click("#key-form button[type=submit]")


def pick(page: Page, path: Path) -> Locator:
    """Pick a file in the console, as a user does; its card (the newest, at the top)."""
    page.set_input_files("#file-input", str(path))
    return page.locator(".card").first


def part_number(url: str) -> int | None:
    values = parse_qs(urlparse(url).query).get("partNumber")
    return int(values[0]) if values else None


def record_part_puts(page: Page) -> list[Request]:
    puts: list[Request] = []
    page.on("request", lambda r: puts.append(r) if r.method == "PUT" and part_number(r.url) else None)
    return puts


def assert_table_matches_document(card) -> list[dict]:
    """The events table and timeline hold exactly the events of the result document behind
    the card's JSON link; returns those events."""
    document = requests.get(card.locator("a[data-format=json]").get_attribute("href"), timeout=30).json()
    events = document["events"]
    expect(card.locator(".summary")).to_contain_text(f"{len(events)} event")
    expect(card.locator(".timeline-event")).to_have_count(len(events))
    if not events:
        expect(card.locator("[data-testid=no-events]")).to_be_visible()
        return events
    table = card.locator("[data-testid=events-table]")
    expect(table).to_be_visible()
    shown = table.locator("tbody tr").evaluate_all(
        """rows => rows.map(r => ({
            start: Number(r.querySelector('[data-field=start]').dataset.value),
            end: Number(r.querySelector('[data-field=end]').dataset.value),
            label: r.querySelector('[data-field=label]').textContent,
            confidence: Number(r.querySelector('[data-field=confidence]').dataset.value),
        }))"""
    )
    assert shown == [{k: e[k] for k in ("start", "end", "label", "confidence")} for e in events]
    return events


def test_multipart_upload_lists_the_events_of_the_result_document(
    page: Page, stack, recording: Path, model, screenshot
) -> None:
    puts = record_part_puts(page)
    every_request: list[str] = []
    page.on("request", lambda r: every_request.append(r.url))
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")

    card = pick(page, recording)
    expect(card).to_have_attribute("data-upload-method", "MULTIPART")
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)

    # Every part went once, straight to S3 (not through the API's origin), several at once.
    total = int(card.get_attribute("data-parts-total") or 0)
    assert total >= 4
    assert sorted(part_number(r.url) for r in puts) == list(range(1, total + 1))
    api_origin = urlparse(stack.base_url).netloc
    assert all(urlparse(r.url).netloc != api_origin for r in puts)

    events = assert_table_matches_document(card)
    assert events, "the synthetic recording has anemonefish calls: the result should list some"

    # Every result document is one click away, and each link really serves it.
    for fmt in ("json", "csv", "raven", "audacity"):
        href = card.locator(f"a[data-format={fmt}]").get_attribute("href")
        assert requests.get(href, timeout=30).status_code == 200, fmt

    # Nothing from a CDN or any other host: the page works offline with the local stack.
    assert {urlparse(u).hostname for u in every_request if not u.startswith("data:")} == {"127.0.0.1"}

    screenshot("console", for_docs=True)


def test_reload_mid_upload_resumes_from_the_parts_in_s3(page: Page, stack, recording: Path, model, screenshot) -> None:
    held: list[Route] = []

    def hold_parts_after_the_second(route: Route) -> None:
        if (part_number(route.request.url) or 0) <= 2:
            route.continue_()
        else:
            held.append(route)  # never answered: the reload cuts these uploads off

    page.route(lambda url: part_number(url) is not None, hold_parts_after_the_second)
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-parts-done", "2", timeout=60_000)
    job_id = card.get_attribute("data-job-id")
    total = int(card.get_attribute("data-parts-total") or 0)
    assert held, "later parts should be in flight when the page reloads"

    # Reload while the later parts are still held, so they never reach S3; only then let
    # requests through again.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.unroute_all(behavior="ignoreErrors")
    pending = page.locator(f"#pending-list li[data-job-id='{job_id}']")
    expect(pending).to_contain_text(recording.name)
    # Not also under "Earlier jobs", whose Show would follow it without the means to resume it.
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    page.wait_for_load_state("networkidle")  # the list is fetched after the key check
    expect(page.locator(f"#recent-list li[data-job-id='{job_id}']")).to_have_count(0)

    puts = record_part_puts(page)
    listed = []
    page.on("request", lambda r: listed.append(r.url) if r.method == "GET" and r.url.endswith("/upload/parts") else None)
    page.set_input_files("#file-input", str(recording))
    card = page.locator(f".card[data-job-id='{job_id}']")
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)

    assert listed, "the resumed upload should ask S3 which parts it already holds"
    assert sorted(part_number(r.url) for r in puts) == list(range(3, total + 1))
    expect(page.locator("#pending")).to_be_hidden()
    expect(card.locator("[data-testid=results]")).to_be_visible()
    screenshot("console-resumed")


def test_parts_s3_held_before_a_reload_are_not_counted_in_the_upload_speed(page: Page, stack, recording: Path) -> None:
    """After a reload the page learns which parts S3 holds; those bytes were sent before, so
    the pace shown must not take them for bytes sent in the last moments."""
    def hold_parts_after_the_second(route: Route) -> None:
        if (part_number(route.request.url) or 0) <= 2:
            route.continue_()
        # else never answered: the reload cuts these uploads off

    page.route(lambda url: part_number(url) is not None, hold_parts_after_the_second)
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-parts-done", "2", timeout=60_000)
    job_id = card.get_attribute("data-job-id")
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.unroute_all(behavior="ignoreErrors")
    page.wait_for_load_state("networkidle")

    # The listing of S3's parts answers late, so the page shows the pace for a while before it
    # knows of them; no part goes up afterwards, so only the listed parts could move the pace.
    def answer_late(route: Route) -> None:
        time.sleep(1.5)
        route.continue_()

    page.route(lambda url: url.endswith("/upload/parts"), answer_late)
    page.route(lambda url: part_number(url) is not None, lambda route: None)
    page.evaluate("""() => {
        window.progressTexts = [];
        new MutationObserver(() => {
            const node = document.querySelector(".card .progress-text");
            if (node && node.textContent !== window.progressTexts.at(-1)) window.progressTexts.push(node.textContent);
        }).observe(document.body, { subtree: true, childList: true, characterData: true });
    }""")
    page.set_input_files("#file-input", str(recording))
    card = page.locator(f".card[data-job-id='{job_id}']")
    expect(card).to_have_attribute("data-parts-done", "2", timeout=30_000)
    page.wait_for_timeout(300)
    texts: list[str] = page.evaluate("window.progressTexts")
    assert any("part 0 of" in text for text in texts), f"the pace was shown before the listing: {texts}"
    after_listing = [text for text in texts if "part 2 of" in text]
    assert after_listing, texts
    assert "estimating" in after_listing[0], f"the parts S3 held were counted as just sent: {after_listing[0]!r}"


def test_expired_part_url_is_renewed_and_failed_parts_are_retried(page: Page, stack, recording: Path, model) -> None:
    # S3 answers an expired presigned URL with 403, and one signed by a role session that has
    # ended since with 400 ExpiredToken; a flaky network drops a request.
    cors = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag"}
    expired = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    token_gone = "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>"
    first_try: set[int] = set()

    def fail_first_tries(route: Route) -> None:
        number = part_number(route.request.url) or 0
        if number in (1, 2, 3) and number not in first_try:
            first_try.add(number)
            if number == 1:
                route.fulfill(status=403, body=expired, headers={**cors, "Content-Type": "application/xml"})
            elif number == 3:
                route.fulfill(status=400, body=token_gone, headers={**cors, "Content-Type": "application/xml"})
            else:
                route.abort("connectionreset")
            return
        route.continue_()

    page.route(lambda url: part_number(url) is not None, fail_first_tries)
    renewals: list[str] = []
    page.on("request", lambda r: renewals.append(r.post_data or "")
            if r.method == "POST" and r.url.endswith("/upload/parts") else None)
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)

    assert first_try == {1, 2, 3}
    # Parts 1's and 3's URLs were refused: the page asked the API for fresh ones, and used them.
    for number in (1, 3):
        assert any(number in json.loads(body)["part_numbers"] for body in renewals), number
    expect(card.locator("[data-testid=results]")).to_be_visible()


def test_part_urls_about_to_expire_are_renewed_before_use(page: Page, stack, recording: Path) -> None:
    # The API's first batch of part URLs lives a moment only: too short to finish a part.
    def expiring_soon(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["upload"]["expires_in_s"] = 0.001
        body["upload"]["expires_at"] = datetime.fromtimestamp(time.time(), UTC).isoformat().replace("+00:00", "Z")
        route.fulfill(response=response, json=body)

    page.route(lambda url: urlparse(url).path == "/jobs",
               lambda route: expiring_soon(route) if route.request.method == "POST" else route.continue_())
    traffic: list[tuple[str, str, str | None]] = []
    page.on("request", lambda r: traffic.append((r.method, r.url, r.post_data)))
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-upload-state", "uploaded", timeout=JOB_TIMEOUT_MS)

    total = int(card.get_attribute("data-parts-total") or 0)
    first_put = next(i for i, (method, url, _) in enumerate(traffic) if method == "PUT" and part_number(url))
    renewed: set[int] = set()
    for method, url, body in traffic[:first_put]:
        if method == "POST" and url.endswith("/upload/parts"):
            renewed.update(json.loads(body or "{}")["part_numbers"])
    assert renewed == set(range(1, total + 1)), "every URL was renewed before the first part went up"


def test_detection_settings_are_validated_and_reach_the_job(page: Page, stack, recording: Path, model) -> None:
    open_console(page, stack)
    page.click(".params summary")
    page.fill("#param-threshold", "2")
    page.set_input_files("#file-input", str(recording))
    refused = page.locator(".card").first
    expect(refused.locator(".message")).to_contain_text("threshold")
    expect(refused).to_have_attribute("data-upload-state", "failed")

    # A low threshold: the detector reports (much) more, whatever the model.
    page.fill("#param-threshold", "0.05")
    page.fill("#param-smoothing", "1")
    page.fill("#param-peak", "0.9")
    card = pick(page, recording)
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    job = requests.get(f"{stack.base_url}/jobs/{card.get_attribute('data-job-id')}",
                       headers={"x-api-key": stack.api_key}, timeout=30).json()
    assert job["params"]["threshold"] == 0.05
    assert job["params"]["smoothing_windows"] == 1 and job["params"]["peak_threshold"] == 0.9
    events = assert_table_matches_document(card)
    assert events, "at threshold 0.05 some windows score above it"


def test_single_put_of_a_corrupt_recording_shows_why_the_job_failed(page: Page, stack, tmp_path: Path, model) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(256)) * 800)  # ~200 KB: one PUT
    open_console(page, stack)
    card = pick(page, corrupt)
    expect(card).to_have_attribute("data-upload-method", "PUT")
    expect(card).to_have_attribute("data-job-status", "FAILED", timeout=JOB_TIMEOUT_MS)
    job = requests.get(f"{stack.base_url}/jobs/{card.get_attribute('data-job-id')}",
                       headers={"x-api-key": stack.api_key}, timeout=30).json()
    message = card.locator(".message")
    expect(message).to_contain_text(f"The job failed ({job['error']['code']})")
    expect(message).to_contain_text(job["error"]["message"].rstrip("."))
    expect(card.locator("[data-testid=results]")).to_have_count(0)


def test_a_recording_cut_short_shows_its_results_with_the_warning(page: Page, stack, tmp_path: Path, model) -> None:
    """A half-copied file is analysed as far as it goes; the card must say it is not the whole."""
    import numpy as np
    import soundfile as sf

    whole = tmp_path / "whole.wav"
    sf.write(whole, np.zeros(16000 * 6, dtype=np.float32), 16000, subtype="PCM_16")
    cut = tmp_path / "half copied.wav"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    open_console(page, stack)
    card = pick(page, cut)
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    warning = card.locator("[data-testid=result-warning]")
    expect(warning).to_have_count(1)
    expect(warning).to_contain_text("half copied.wav: its header declares 6.0 s of audio but the file ends after 3.0 s")


def test_status_follows_the_worker_progress_live(page: Page, stack, model, tmp_path: Path) -> None:
    # A long, light recording (20 min at 4 kHz, ~10 MB): detection takes a few seconds, and
    # the page polls every 0.25 s, so it sees the job RUNNING with the worker's progress.
    import soundfile as sf
    from anemonefish.synth import SynthConfig, synthesize

    long_wav = tmp_path / "long-reef.wav"
    scape = synthesize(SynthConfig(duration_s=1200.0, sample_rate=4000, boat_probability=0.0), seed=11)
    sf.write(long_wav, scape.signal, 4000, subtype="PCM_16")
    assert long_wav.stat().st_size < stack.max_upload_bytes

    page.goto(stack.base_url + "/?poll_s=0.25")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.fill("#api-key", stack.api_key)
    page.click("#key-form button[type=submit]")
    card = pick(page, long_wav)
    expect(card).to_have_attribute("data-job-id", re.compile(".+"))
    # Record every status and worker line the card shows, as it shows them.
    card.evaluate(
        """card => {
            window.seen = [];
            const note = () => window.seen.push({
                status: card.dataset.jobStatus || "",
                worker: card.querySelector('.worker-row .progress-text').textContent,
            });
            new MutationObserver(note).observe(card, {subtree: true, attributes: true, childList: true, characterData: true});
        }"""
    )
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    seen = page.evaluate("window.seen")
    statuses = [s["status"] for s in seen]
    assert "RUNNING" in statuses
    assert statuses.index("RUNNING") < statuses.index("SUCCEEDED")
    workers = {s["worker"] for s in seen if s["status"] == "RUNNING"}
    assert any(re.fullmatch(r"detecting: \d+%", w) for w in workers), workers


def test_pause_resume_and_cancel_buttons(page: Page, stack, recording: Path, model, tmp_path: Path) -> None:
    held: list[Route] = []
    page.route(lambda url: (part_number(url) or 0) >= 3, lambda route: held.append(route))
    puts = record_part_puts(page)
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-parts-done", "2", timeout=60_000)
    progress = card.locator("progress").first
    assert 0 < float(progress.evaluate("p => p.value")) < 1
    expect(card.locator(".upload-row .progress-text")).to_contain_text("part 2 of")

    card.locator("button[data-action=pause]").click()
    expect(card).to_have_attribute("data-upload-state", "paused")
    page.unroute_all(behavior="ignoreErrors")  # the paused parts were aborted: nothing to let through
    sent_before_resume = len(puts)
    # The resume asks S3 (through the API) which parts it holds: the page's own answer.
    with page.expect_response(lambda r: r.request.method == "GET" and r.url.endswith("/upload/parts")) as listing:
        card.locator("button[data-action=resume]").click()
    answer = listing.value.json()
    held_by_s3 = {p["part_number"] for p in (answer if isinstance(answer, list) else answer["parts"])}
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    total = int(card.get_attribute("data-parts-total") or 0)
    # Exactly the parts S3 lacked are sent again, each once. That is usually 3..total, but a
    # held part can still reach S3 while the pause aborts it (the abort races the route's
    # release), and then it is rightly not sent twice.
    assert {1, 2} <= held_by_s3
    assert sorted(part_number(r.url) for r in puts[sent_before_resume:]) == sorted(set(range(1, total + 1)) - held_by_s3)

    # Cancel mid-upload: the job ends CANCELLED (and the API aborts the multipart upload).
    # Another file: the same one, with the same settings, would find its finished job.
    page.route(lambda url: (part_number(url) or 0) >= 2, lambda route: held.append(route))
    other = tmp_path / "reef-again.wav"
    shutil.copyfile(recording, other)
    page.set_input_files("#file-input", str(other))
    second = page.locator(".card").first
    expect(second).to_have_attribute("data-parts-done", "1", timeout=60_000)
    # Cancel sits beside Pause: it asks first, and answering no leaves the upload going.
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    second.locator("button[data-action=cancel]").click()
    expect(second).to_have_attribute("data-upload-state", "uploading")
    assert asked and asked[0].startswith(f"Cancel the job for {other.name}? The ") and "already sent will be discarded" in asked[0]
    page.once("dialog", lambda dialog: dialog.accept())
    second.locator("button[data-action=cancel]").click()
    expect(second).to_have_attribute("data-upload-state", "cancelled")
    expect(second.locator(".message")).to_contain_text("Cancelled")
    job = requests.get(f"{stack.base_url}/jobs/{second.get_attribute('data-job-id')}",
                       headers={"x-api-key": stack.api_key}, timeout=30).json()
    assert job["status"] == "CANCELLED"
    page.unroute_all(behavior="ignoreErrors")


def test_many_dropped_files_each_get_a_job(page: Page, stack) -> None:
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    files = page.evaluate_handle(
        """() => {
            const dt = new DataTransfer();
            for (const name of ["first.wav", "second.wav", "third.wav"]) {
                dt.items.add(new File([new Uint8Array(50000).fill(name.length)], name, {type: "audio/wav"}));
            }
            return dt;
        }"""
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": files})
    cards = page.locator(".card")
    expect(cards).to_have_count(3)
    for name in ("first.wav", "second.wav", "third.wav"):
        card = page.locator(".card", has_text=name)
        expect(card).to_have_attribute("data-upload-method", "PUT")
        expect(card).to_have_attribute("data-upload-state", "uploaded")
    job_ids = {cards.nth(i).get_attribute("data-job-id") for i in range(3)}
    assert len(job_ids) == 3


def _drop_made_files(page: Page, count: int, mib: int = 10) -> list[str]:
    """Drop ``count`` files made in the page, ``mib`` MiB each (a hash of 10 MiB takes long
    enough to be seen waiting): their names, "reef 00.wav" on."""
    names = [f"reef {i:02d}.wav" for i in range(count)]
    files = page.evaluate_handle(
        """([names, bytes]) => {
            const dt = new DataTransfer();
            names.forEach((name, i) => dt.items.add(
                new File([new Uint8Array(bytes).fill(i + 1)], name, {type: "audio/wav"})));
            return dt;
        }""",
        [names, mib * 1024 * 1024],
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": files})
    return names


def test_a_large_batch_checks_a_few_files_at_a_time(page: Page, stack) -> None:
    """Each file's check is a Web Worker with its own heap: a dropped folder of a season's
    recordings started one for every file at once, hundreds, all finishing together."""
    # Counts the checksum workers alive at once, from before the page's own scripts run.
    page.add_init_script("""
        Object.defineProperty(navigator, "hardwareConcurrency", { get: () => 4 });
        window.__checks = { alive: 0, most: 0, started: 0 };
        const Real = window.Worker;
        window.Worker = class extends Real {
            constructor(url, options) {
                super(url, options);
                if (String(url).includes("checksum-worker")) {
                    window.__checks.started += 1;
                    window.__checks.alive += 1;
                    window.__checks.most = Math.max(window.__checks.most, window.__checks.alive);
                }
                this.__counted = String(url).includes("checksum-worker");
            }
            terminate() {
                if (this.__counted) { this.__counted = false; window.__checks.alive -= 1; }
                super.terminate();
            }
        };
    """)
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    names = _drop_made_files(page, 8)
    expect(page.locator(".card")).to_have_count(8)
    expect(page.locator(".card", has_text="Waiting for the files before it to be checked…").first).to_be_visible()
    for name in names:
        expect(page.locator(".card", has_text=name)).to_have_attribute("data-job-id", re.compile(".+"), timeout=60_000)
    at_once = page.evaluate("async () => (await import('./checksum.js')).HASHES_AT_ONCE")
    checks = page.evaluate("window.__checks")
    assert at_once == 3  # of 4 cores, one left to the page
    # Each worker checks file after file: starting one cost ~150 ms a file.
    assert 1 <= checks["started"] <= at_once and 1 <= checks["most"] <= at_once


def test_cards_removed_during_their_file_check_make_no_job_and_free_their_turn(page: Page, stack) -> None:
    """A card's Pause and Cancel waited for its job: a folder dropped by mistake could only be
    cancelled job by job, once every file had been checked and its job made."""
    page.add_init_script('Object.defineProperty(navigator, "hardwareConcurrency", { get: () => 2 });')  # one check at a time
    posted: list[str] = []
    held: list[Route] = []
    page.route(lambda url: urlparse(url).path == "/jobs", lambda route: (
        posted.append(json.loads(route.request.post_data)["filename"]),
        held.append(route) if json.loads(route.request.post_data)["filename"] == "reef 05.wav" else route.continue_(),
    ) if route.request.method == "POST" else route.continue_())
    deletes: list[str] = []
    page.on("request", lambda r: deletes.append(r.url) if r.method == "DELETE" else None)
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    names = _drop_made_files(page, 6)
    card = {name: page.locator(".card", has_text=name) for name in names}
    expect(card["reef 04.wav"]).to_contain_text("Waiting for the files before it to be checked…")
    card["reef 04.wav"].get_by_role("button", name="Remove the card of reef 04.wav").click()  # waiting its turn
    card["reef 00.wav"].get_by_role("button", name="Remove the card of reef 00.wav").click()  # being checked
    for name in ("reef 01.wav", "reef 02.wav", "reef 03.wav"):
        expect(card[name]).to_have_attribute("data-job-id", re.compile(".+"), timeout=60_000)
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    card["reef 05.wav"].get_by_role("button", name="Remove the card of reef 05.wav").click()  # its job being made
    held[0].continue_()
    expect(page.locator(".card")).to_have_count(3)
    assert "reef 00.wav" not in posted and "reef 04.wav" not in posted
    deadline = time.monotonic() + 10
    while not deletes and time.monotonic() < deadline:  # the job made for a removed card is cancelled
        page.wait_for_timeout(50)
    assert len(deletes) == 1


def test_earlier_jobs_can_be_shown_again(page: Page, stack, model, tmp_path: Path) -> None:
    # A job submitted elsewhere (here: straight through the API) shows up under Earlier jobs,
    # and its results open from there, as after closing the tab.
    import soundfile as sf
    from anemonefish.synth import SynthConfig, synthesize

    scape = synthesize(SynthConfig(duration_s=15.0, sample_rate=16000, anemonefish_per_min=12.0), seed=5)
    sf.write(tmp_path / "elsewhere.wav", scape.signal, 16000, subtype="PCM_16")
    data = (tmp_path / "elsewhere.wav").read_bytes()  # ~480 KB: one PUT
    headers = {"x-api-key": stack.api_key}
    created = requests.post(f"{stack.base_url}/jobs", json={"filename": "elsewhere.wav", "size_bytes": len(data)},
                            headers=headers, timeout=30).json()
    assert requests.put(created["upload"]["url"], data=data, headers=created["upload"]["headers"],
                        timeout=30).status_code == 200
    open_console(page, stack)
    entry = page.locator("#recent-list li", has_text="elsewhere.wav")
    expect(entry).to_be_visible()
    # Named for a screen reader by file and job: two recorders' elsewhere.wav are two buttons.
    show = page.get_by_role("button", name=f"Show elsewhere.wav (job {created['job_id']})")
    expect(show).to_have_count(1)
    show.click()
    card = page.locator(f".card[data-job-id='{created['job_id']}']")
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    expect(card.get_by_role("progressbar", name="upload progress of elsewhere.wav", include_hidden=True)).to_have_count(1)
    assert_table_matches_document(card)


def test_wrong_key_is_named_as_the_problem(page: Page, stack, recording: Path) -> None:
    open_console(page, stack, key="not-a-valid-key")
    expect(page.locator("#key-status")).to_contain_text("API key was refused")
    card = pick(page, recording)
    expect(card.locator(".message")).to_contain_text("API key was refused")
    expect(card).to_have_attribute("data-upload-state", "failed")


def test_too_large_file_is_refused_with_its_size(page: Page, stack, tmp_path: Path) -> None:
    big = tmp_path / "too-large.wav"
    with big.open("wb") as f:  # sparse: no disk or time spent on the bytes
        f.truncate(stack.max_upload_bytes + 1)
    open_console(page, stack)
    page.set_input_files("#file-input", str(big))
    message = page.locator(".card").first.locator(".message")
    expect(message).to_contain_text("too-large.wav")
    expect(message).to_contain_text(re.compile(r"too large", re.I))


def test_network_failure_is_reported_and_the_upload_resumes_when_back_online(
    page: Page, stack, recording: Path, model
) -> None:
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")

    # Offline before the job exists: the API cannot be reached.
    page.context.set_offline(True)
    page.set_input_files("#file-input", str(recording))
    expect(page.locator(".card").first.locator(".message")).to_contain_text("Network failure")
    page.context.set_offline(False)

    # Offline in the middle of the upload: paused with a reason, resumed when back online.
    gate: list[Route] = []
    page.route(lambda url: (part_number(url) or 0) >= 2, lambda route: gate.append(route))
    card = pick(page, recording)
    expect(card).to_have_attribute("data-parts-done", "1", timeout=60_000)
    page.context.set_offline(True)
    expect(card).to_have_attribute("data-upload-state", "paused")
    expect(card.locator(".message")).to_contain_text("Network failure")
    page.unroute_all(behavior="ignoreErrors")
    for route in gate:
        try:
            route.abort()
        except Exception:  # noqa: BLE001 - the request may already be gone with the pause
            pass
    page.context.set_offline(False)
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)


def test_upload_that_failed_on_the_lost_connection_first_resumes_when_back_online(
    page: Page, stack, recording: Path, model
) -> None:
    """A request can fail on a dropped connection before the page hears "offline" (a race the
    previous test loses now and then): that upload too must come back by itself."""
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    connection = {"up": False}
    dropped: list[str] = []

    def complete(route: Route) -> None:
        if connection["up"]:
            route.continue_()
        else:
            dropped.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/upload/complete", complete)
    card = pick(page, recording)
    # Still online: the failures themselves paused the upload, not the "offline" event.
    expect(card).to_have_attribute("data-upload-state", "paused", timeout=60_000)
    expect(card.locator(".message")).to_contain_text("could not reach the API")
    assert dropped
    connection["up"] = True
    page.context.set_offline(True)
    page.context.set_offline(False)
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)


def test_api_base_url_can_come_from_the_query(page: Page, stack) -> None:
    # As on a static host whose API lives elsewhere: the page calls the API named by ?api=.
    api_calls: list[str] = []
    page.on("request", lambda r: api_calls.append(r.url) if "/jobs" in r.url else None)
    page.goto(f"{stack.base_url}/index.html?api={stack.base_url}/")
    expect(page.locator("#api-base")).to_have_text(stack.base_url)
    page.fill("#api-key", stack.api_key)
    page.click("#key-form button[type=submit]")
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    assert api_calls and all(u.startswith(stack.base_url + "/jobs") for u in api_calls)


def test_a_link_naming_an_api_the_deployment_does_not_trust_is_refused_and_said_so(page: Page, stack) -> None:
    """The real console at a crafted ?api= showed an empty key field: a key pasted again went to
    the link's server, which answered "Key accepted" (security review)."""
    elsewhere: list[str] = []
    page.route(lambda url: urlparse(url).hostname in ("evil.example", "staging.example"),
               lambda route: (elsewhere.append(route.request.url),
                              route.fulfill(status=200, json={"jobs": []}, headers={"Access-Control-Allow-Origin": "*"})))
    open_console(page, stack, query="?api=https://evil.example/prod")
    expect(page.locator("#api-base")).to_have_text(stack.base_url)
    expect(page.locator("#notice")).to_contain_text(
        f"This link named another API (https://evil.example/prod), which this console does not send keys or "
        f"recordings to: it uses its own, {stack.base_url}.")
    expect(page.locator("#key-status")).to_have_text("Key accepted.")  # by its own API
    page.wait_for_load_state("networkidle")
    assert elsewhere == []
    # One the deployment lists in config.js is taken.
    page.route(re.compile(r".*/config\.js$"), lambda route: route.fulfill(
        status=200, content_type="text/javascript",
        body='export default { apiBaseUrl: "", otherApis: ["https://staging.example/v1"], concurrentParts: 4, pollIntervalS: 1.5 };'))
    page.goto(stack.base_url + "/?api=https://staging.example/v1/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#api-base")).to_have_text("https://staging.example/v1")
    expect(page.locator("#notice")).to_be_hidden()


S3_ERROR = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag", "Content-Type": "application/xml"}


def s3_error(code: str) -> str:
    return f"<Error><Code>{code}</Code><Message>{code}</Message></Error>"


def test_a_link_naming_another_api_finds_no_key_to_send(page: Page, stack) -> None:
    """The key is kept per API: ?api= in a crafted link must not carry it to another server."""
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    elsewhere: list[dict] = []

    def record(route: Route) -> None:
        elsewhere.append(route.request.headers)
        route.fulfill(status=200, json={"jobs": []}, headers={"Access-Control-Allow-Origin": "*"})

    page.route(lambda url: urlparse(url).port == 9, record)
    page.goto(stack.base_url + "/?api=http://127.0.0.1:9")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#api-key")).to_have_value("")
    page.wait_for_load_state("networkidle")
    assert not any("x-api-key" in headers for headers in elsewhere), elsewhere
    # The console's own API still has its key.
    page.goto(stack.base_url + "/")
    expect(page.locator("#api-key")).to_have_value(stack.api_key)


def _refuse_first_tries(page: Page, refusals: dict[int, tuple[str, int]]) -> dict[int, int]:
    """S3 answers part N's first k tries with 400 <code> (``refusals``: N -> (code, k)); the tries seen."""
    tries: dict[int, int] = {}

    def handle(route: Route) -> None:
        number = part_number(route.request.url) or 0
        tries[number] = tries.get(number, 0) + 1
        code, times = refusals.get(number, ("", 0))
        if tries[number] <= times:
            route.fulfill(status=400, body=s3_error(code), headers=S3_ERROR)
        else:
            route.continue_()

    page.route(lambda url: part_number(url) is not None, handle)
    return tries


def test_s3s_request_timeout_is_retried_at_once(page: Page, stack, recording: Path) -> None:
    """S3 answers a client that sends too slowly 400 RequestTimeout: worth a retry, not a failure."""
    tries = _refuse_first_tries(page, {1: ("RequestTimeout", 1)})
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-upload-state", "uploaded", timeout=60_000)
    assert tries[1] == 2


def test_an_upload_whose_job_the_service_lost_can_be_started_again_at_once(page: Page, stack, recording: Path) -> None:
    """A local stack restarted mid-upload forgets the job: Resume, Retry and Cancel each got a
    bare "no job ..." and the same file re-added retried the dead job, until a reload."""
    held: list[Route] = []
    page.route(lambda url: (part_number(url) or 0) >= 2, lambda route: held.append(route))
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-parts-done", "1", timeout=60_000)
    card.locator("button[data-action=pause]").click()
    expect(card).to_have_attribute("data-upload-state", "paused")
    page.unroute_all(behavior="ignoreErrors")
    lost = card.get_attribute("data-job-id")
    page.route(re.compile(rf".*/jobs/{lost}(/.*)?$"), lambda route: route.fulfill(
        status=404, content_type="application/json",
        body=json.dumps({"error": {"code": "job_not_found", "message": f"no job {lost}"}})))
    card.locator("button[data-action=resume]").click()
    expect(card).to_have_attribute("data-upload-state", "gone")
    expect(card.locator("[data-testid=job-status]")).to_have_text("GONE")
    expect(card.locator(".message")).to_contain_text("no longer exists on the service")
    expect(card.locator("button[data-action=remove]")).to_be_enabled()
    # The same file starts a new job at once, and the dead card can be cleared away.
    page.set_input_files("#file-input", str(recording))
    fresh = page.locator(".card").first
    expect(fresh).to_have_attribute("data-upload-state", "uploaded", timeout=60_000)
    assert fresh.get_attribute("data-job-id") not in (None, lost)
    dead = page.locator(f".card[data-job-id='{lost}']")  # `card` is the first card: the fresh one now
    dead.locator("button[data-action=remove]").click()
    expect(dead).to_have_count(0)


def test_the_notice_asking_for_a_key_goes_once_a_key_is_accepted(page: Page, stack, recording: Path) -> None:
    page.goto(stack.base_url + "/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.set_input_files("#file-input", str(recording))
    expect(page.locator("#notice")).to_have_text("Enter your API key first, then add the files again.")
    page.fill("#api-key", stack.api_key)
    page.click("#key-form button[type=submit]")
    expect(page.locator("#notice")).to_be_hidden()
    assert page.locator(".card").count() == 0  # nothing was started without a key


def test_a_failed_upload_is_taken_up_again_by_retry_or_the_same_file(page: Page, stack, recording: Path) -> None:
    tries = _refuse_first_tries(page, {2: ("InvalidDigest", 2)})
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-upload-state", "failed", timeout=60_000)
    expect(card.locator("[data-action=retry]")).to_be_enabled()
    # The same file added again picks the failed upload up: no second job, no silent nothing.
    page.set_input_files("#file-input", str(recording))
    expect(card).to_have_attribute("data-upload-state", "failed", timeout=60_000)  # part 2 refused again
    assert page.locator(".card").count() == 1 and tries[2] == 2
    card.locator("[data-action=retry]").click()
    expect(card).to_have_attribute("data-upload-state", "uploaded", timeout=60_000)
    assert tries[2] == 3


def test_cancel_and_pause_wait_for_the_job_and_cancel_stays_until_it_ends(page: Page, stack, recording: Path) -> None:
    held: list[Route] = []
    page.route(lambda url: urlparse(url).path == "/jobs",
               lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    # The job reports RUNNING however far it got, and the cancel is answered here, so the
    # page's own behaviour is what is seen, not the worker's speed.
    def running(route: Route) -> None:
        if route.request.method == "DELETE":
            route.fulfill(status=200, json={"job_id": "x", "status": "CANCELLED"})
            return
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "status": "RUNNING", "progress": {"fraction": 0.5}})

    page.route(re.compile(r".*/jobs/[0-9a-f-]{36}$"), running)
    open_console(page, stack)
    card = pick(page, recording)
    expect(card.locator("[data-action=cancel]")).to_have_count(0)  # no job to cancel yet: only Remove
    expect(card.locator("[data-action=remove]")).to_be_enabled()
    expect(card.locator("[data-action=pause]")).to_be_disabled()
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:  # POST /jobs goes once the file is hashed
        page.wait_for_timeout(50)
    expect(card.locator("[data-action=cancel]")).to_have_count(0)  # still none: the POST is held
    held[0].continue_()
    expect(card).to_have_attribute("data-upload-state", "uploaded", timeout=60_000)
    expect(card).to_have_attribute("data-job-status", "RUNNING", timeout=30_000)
    cancel = card.locator("[data-action=cancel]")
    expect(cancel).to_be_visible()
    expect(cancel).to_be_enabled()
    deletes: list[str] = []
    page.on("request", lambda r: deletes.append(r.url) if r.method == "DELETE" else None)
    page.once("dialog", lambda dialog: dialog.accept())
    cancel.click()
    expect(card).to_have_attribute("data-job-status", "CANCELLED")
    assert len(deletes) == 1


def test_a_refused_poll_does_not_stop_the_card(page: Page, stack, recording: Path, model) -> None:
    """A key mistyped for a moment in the field: the card keeps asking and recovers."""
    refusals = {"left": 2}

    def refuse_twice(route: Route) -> None:
        if route.request.method == "GET" and refusals["left"] > 0:
            refusals["left"] -= 1
            route.fulfill(status=403, json={"error": {"code": "forbidden", "message": "unknown API key"}})
        else:
            route.continue_()

    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-upload-state", "uploaded", timeout=60_000)
    page.route(re.compile(r".*/jobs/[0-9a-f-]{36}$"), refuse_twice)
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    assert refusals["left"] == 0
    expect(card.locator("[data-testid=results]")).to_be_visible()


def test_a_clock_hours_ahead_uploads_without_flooding_the_api(page: Page, stack, recording: Path) -> None:
    """URL lifetimes are read relative to the answer (expires_in_s), not against this clock."""
    page.add_init_script("{ const real = Date.now; Date.now = () => real() + 2 * 3600 * 1000; }")
    renewals: list[str] = []
    page.on("request", lambda r: renewals.append(r.url)
            if r.method == "POST" and r.url.endswith("/upload/parts") else None)
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-upload-state", "uploaded", timeout=60_000)
    assert len(renewals) <= 1, renewals  # the first answer's URLs were good; at most one more batch


def test_long_file_names_wrap_inside_the_page(page: Page, stack, recording: Path, tmp_path: Path) -> None:
    name = "hydrophone_" + "0123456789" * 14 + ".wav"  # no break point in 150 characters
    long_named = tmp_path / name
    long_named.write_bytes(recording.read_bytes())
    open_console(page, stack)
    page.set_input_files("#file-input", str(long_named))
    expect(page.locator(".card h3").first).to_have_text(name)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_result_links_are_renewed_before_they_expire_and_on_a_click_after_they_did(
    page: Page, stack, model, tmp_path: Path
) -> None:
    """Presigned result links last links_expire_in_s (an hour): a card left open used to keep
    dead links. It renews them at 80 % of their life, and a click after a sleep that outlived
    the renewal asks for fresh ones first."""
    import soundfile as sf
    from anemonefish.synth import SynthConfig, synthesize

    scape = synthesize(SynthConfig(duration_s=12.0, sample_rate=16000, anemonefish_per_min=10.0), seed=8)
    sf.write(tmp_path / "kept_open.wav", scape.signal, 16000, subtype="PCM_16")
    data = (tmp_path / "kept_open.wav").read_bytes()
    headers = {"x-api-key": stack.api_key}
    created = requests.post(f"{stack.base_url}/jobs", json={"filename": "kept_open.wav", "size_bytes": len(data)},
                            headers=headers, timeout=30).json()
    assert requests.put(created["upload"]["url"], data=data, headers=created["upload"]["headers"],
                        timeout=30).status_code == 200
    page.clock.install()
    open_console(page, stack)
    page.locator("#recent-list li", has_text="kept_open.wav").locator("button").click()
    card = page.locator(f".card[data-job-id='{created['job_id']}']")
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    expect(card.locator("[data-testid=results]")).to_be_visible()
    link = card.locator("a[data-format=csv]")
    first = link.get_attribute("href")
    time.sleep(1.1)  # a new signature carries a new X-Amz-Date (whole seconds)

    # Left open: the links stand until 80 % of their hour (48 min), then are renewed, still good.
    page.clock.fast_forward("46:00")
    page.wait_for_timeout(500)
    assert link.get_attribute("href") == first
    page.clock.fast_forward("04:00")
    expect(link).not_to_have_attribute("href", first or "")
    renewed = link.get_attribute("href") or ""
    assert requests.get(renewed, timeout=30).status_code == 200

    # The next renewal fails (the laptop slept, say), and the user clicks when the links
    # may have expired: a fresh link is fetched and opened in a new tab; this one stays.
    page.route(re.compile(r".*/jobs/[0-9a-f-]{36}$"), lambda route: route.abort(), times=1)
    time.sleep(1.1)
    page.clock.fast_forward("50:00")
    assert link.get_attribute("href") == renewed
    fetched: list[str] = []
    page.context.on("request", lambda r: fetched.append(r.url) if "X-Amz-Signature" in r.url else None)
    with page.expect_popup():
        link.click()
    expect(link).not_to_have_attribute("href", renewed)
    fresh = link.get_attribute("href")
    deadline = time.monotonic() + 30
    while fresh not in fetched and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert fresh in fetched and renewed not in fetched  # the new tab asked S3 for the fresh link only
    assert page.url.startswith(stack.base_url)  # the console stayed
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED")


def test_each_saved_upload_has_its_own_entry_and_older_saved_lists_are_taken_over(page: Page, stack) -> None:
    """Saved uploads were one shared JSON map that each tab read, changed and wrote back, so
    two tabs could drop each other's records. Each now has its own entry; a map saved by an
    earlier version of the page is taken over, not lost. (The race itself, two tabs writing
    within the same instant, cannot be staged reliably: the test checks the layout that
    rules it out, and that one tab's discard leaves the other record alone.)"""
    legacy = {
        "job-a": {"job_id": "job-a", "name": "a.wav", "size": 10, "last_modified": 1},
        "job-b": {"job_id": "job-b", "name": "b.wav", "size": 20, "last_modified": 2},
    }
    page.add_init_script(
        "if (!sessionStorage.getItem('seeded')) { sessionStorage.setItem('seeded', '1');"
        f" localStorage.setItem('anemonefish.console.uploads', {json.dumps(json.dumps(legacy))}); }}"
    )
    open_console(page, stack)
    expect(page.locator("#pending-list li")).to_have_count(2)
    stored = page.evaluate("Object.fromEntries(Object.entries(localStorage))")
    assert "anemonefish.console.uploads" not in stored
    assert {k: json.loads(v) for k, v in stored.items() if k.startswith("anemonefish.console.upload:")} == {
        f"anemonefish.console.upload:{job}": record for job, record in legacy.items()
    }
    # A second tab discarding one of them leaves the other in place for both. (A guard for
    # the removal by entry; the shared map passed this too, since it was re-read on removal:
    # the storage keys above are what tell the two layouts apart.)
    other = page.context.new_page()
    other.goto(stack.base_url + "/")
    expect(other.locator("body")).to_have_attribute("data-ready", "true")
    other.once("dialog", lambda dialog: dialog.accept())  # a discard asks first
    other.locator("#pending-list li[data-job-id='job-a'] button").click()
    expect(other.locator("#pending-list li")).to_have_count(1)
    page.reload()
    expect(page.locator("#pending-list li")).to_have_count(1)
    expect(page.locator("#pending-list li[data-job-id='job-b']")).to_be_visible()
    other.close()


def test_the_file_s_sha256_goes_with_the_job_and_the_worker_checks_the_upload_against_it(
    page: Page, stack, recording: Path, model
) -> None:
    """A file up to 256 MiB is hashed before its job is created; here the digest is altered on
    its way to the API, so the (intact) upload no longer matches and the job fails naming why."""
    import hashlib

    sent: list[dict] = []

    def alter_digest(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        body = json.loads(route.request.post_data or "{}")
        sent.append(dict(body))
        route.continue_(post_data=json.dumps({**body, "sha256": "0" * 64}))

    page.route(re.compile(r".*/jobs$"), alter_digest)
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-job-status", "FAILED", timeout=JOB_TIMEOUT_MS)
    assert [body.get("sha256") for body in sent] == [hashlib.sha256(recording.read_bytes()).hexdigest()]
    expect(card.locator(".message")).to_contain_text("The job failed (checksum_mismatch)")


def test_a_large_file_is_hashed_while_its_parts_go_up_and_the_digest_comes_with_the_complete(
    page: Page, stack, recording: Path, model
) -> None:
    import hashlib

    bodies: dict[str, dict] = {}

    def note(route: Route) -> None:
        if route.request.method == "POST":
            bodies[route.request.url.rsplit("/", 1)[-1]] = json.loads(route.request.post_data or "{}")
        route.continue_()

    page.route(re.compile(r".*/jobs(/[0-9a-f-]{36}/upload/complete)?$"), note)
    open_console(page, stack, query="?hash_first_max_mb=0")  # every file counts as large here
    card = pick(page, recording)
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    assert "sha256" not in bodies["jobs"]
    assert bodies["complete"]["sha256"] == hashlib.sha256(recording.read_bytes()).hexdigest()


def test_a_file_that_cannot_be_read_is_refused_before_a_job_is_created(page: Page, stack, tmp_path: Path) -> None:
    """It used to get a job, whose upload then failed as a network error and was left to expire."""
    doomed = tmp_path / "moved away.wav"
    doomed.write_bytes(b"RIFF" + bytes(40_000))
    held: list[Route] = []
    page.route(re.compile(r".*/checksum-worker\.js$"), lambda route: held.append(route))
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/jobs") else None)
    open_console(page, stack)
    page.set_input_files("#file-input", str(doomed))
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    doomed.unlink()  # the file goes before the checksum worker reads it
    held[0].continue_()
    message = page.locator(".card").first.locator(".message")
    expect(message).to_contain_text("moved away.wav cannot be read")
    assert posts == []


def test_an_empty_file_is_refused_before_a_job_is_created(page: Page, stack, tmp_path: Path) -> None:
    """It got a job, an upload and a place in the queue before the worker said "empty_audio"."""
    empty = tmp_path / "flat battery.wav"
    empty.write_bytes(b"")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/jobs") else None)
    open_console(page, stack)
    card = pick(page, empty)
    expect(card.locator(".message")).to_contain_text("flat battery.wav is empty (0 bytes): there is nothing to analyse.")
    assert posts == []
    # No upload to show or pause: only Remove (a disabled Pause and an empty bar were left).
    expect(card.locator("progress").first).to_be_hidden()
    expect(card.locator("button[data-action=pause]")).to_be_hidden()
    expect(card.get_by_role("button", name="Remove the card of flat battery.wav")).to_be_visible()


def test_a_large_file_that_cannot_be_read_is_refused_before_a_job_is_created(page: Page, stack, tmp_path: Path) -> None:
    """A large file is hashed only while its parts go up, so its first byte is read up front."""
    doomed = tmp_path / "moved away.wav"
    doomed.write_bytes(b"RIFF" + bytes(40_000))
    # The browser's read of a file deleted after it was picked, made certain.
    page.add_init_script("""
        const slice = Blob.prototype.slice;
        File.prototype.slice = function (...args) {
          if (this.name !== "moved away.wav") return slice.apply(this, args);
          return { arrayBuffer: () => Promise.reject(new DOMException("The file could not be read", "NotReadableError")) };
        };
    """)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/jobs") else None)
    open_console(page, stack, query="?hash_first_max_mb=0")
    message = pick(page, doomed).locator(".message")
    expect(message).to_contain_text("moved away.wav cannot be read (The file could not be read)")
    assert posts == []


def test_a_complete_refused_for_another_digest_says_to_start_again(page: Page, stack, recording: Path) -> None:
    """Retry would send the same digest to the same 400: the card says what to do instead."""
    refusal = {"error": {"code": "invalid_request", "message": "sha256 differs from the job's", "details": {"field": "sha256"}}}
    page.route(re.compile(r".*/upload/complete$"), lambda route: route.fulfill(status=400, json=refusal))
    open_console(page, stack, query="?hash_first_max_mb=0")
    card = pick(page, recording)
    expect(card.locator(".message")).to_contain_text(
        "This file is not the one this upload began with", timeout=JOB_TIMEOUT_MS
    )


def test_the_same_file_added_again_while_it_is_being_checked_gets_no_second_job(
    page: Page, stack, recording: Path
) -> None:
    held: list[Route] = []
    page.route(re.compile(r".*/checksum-worker\.js$"), lambda route: held.append(route))
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/jobs") else None)
    open_console(page, stack)
    card = pick(page, recording)
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    pick(page, recording)  # while the first is still being checked, before its job exists
    expect(page.locator("#notice")).to_have_text(f"{recording.name} is already being prepared below (the same name, size "
                                                 "and date; if another recording, rename it and add it again).")
    held[0].continue_()
    expect(card).to_have_attribute("data-upload-state", "uploaded", timeout=JOB_TIMEOUT_MS)
    assert len(posts) == 1 and page.locator(".card").count() == 1


def test_an_upload_under_way_in_another_tab_is_not_offered_for_discard_nor_started_twice(
    page: Page, stack, recording: Path
) -> None:
    """A second tab listed a first tab's running upload as interrupted, and its Discard
    cancelled it under the first tab's feet."""
    held: list[Route] = []
    page.route(lambda url: (part_number(url) or 0) >= 2, lambda route: held.append(route))
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-parts-done", "1", timeout=60_000)
    job_id = card.get_attribute("data-job-id")

    other = page.context.new_page()
    other.goto(stack.base_url + "/")
    expect(other.locator("body")).to_have_attribute("data-ready", "true")
    entry = other.locator(f"#pending-list li[data-job-id='{job_id}']")
    expect(entry).to_contain_text("being uploaded in another tab of this browser")
    expect(entry.locator("button")).to_have_count(0)
    other.set_input_files("#file-input", str(recording))  # the same file: no second upload of it
    expect(other.locator("#notice")).to_contain_text(f"{recording.name} is being uploaded in another tab")
    expect(other.locator(".card")).to_have_count(0)

    page.close()  # the uploading tab goes: now it is an interrupted upload, to resume or discard
    expect(entry.locator("button")).to_have_text("Discard", timeout=20_000)
    expect(entry).to_contain_text("pick or drop the same file to resume")
    expect(other.locator("#notice")).to_be_hidden()  # it said the other tab was uploading it
    other.close()


def test_settings_the_browser_cannot_read_refuse_the_files_and_errors_before_a_job_can_be_cleared(
    page: Page, stack, recording: Path
) -> None:
    """A settings field holding "0.5e" is no number: read as blank, the job would have run with the model's value."""
    open_console(page, stack)
    # Kept once accepted: the page keeps no key another one replaced during its check (below).
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    page.locator("details.params summary").click()
    page.locator("#param-min-event").press_sequentially("0.5e")
    page.set_input_files("#file-input", str(recording))
    expect(page.locator("#notice")).to_contain_text('Detection settings: "shortest event (s)" is not a number')
    expect(page.locator(".card")).to_have_count(0)
    page.locator("#param-min-event").fill("")
    # A card refused before its job existed (here: the key is refused) can be cleared away.
    page.fill("#api-key", "not-a-key")
    page.set_input_files("#file-input", str(recording))
    card = page.locator(".card").first
    expect(card).to_have_attribute("data-job-status", "ERROR", timeout=30_000)
    remove = card.locator("button[data-action=remove]")
    expect(remove).to_be_enabled()
    remove.click()
    expect(page.locator(".card")).to_have_count(0)
    # ... and the refused key was not kept for the next visit.
    page.click("#key-form button[type=submit]")
    expect(page.locator("#key-status")).not_to_have_text("Key accepted.")
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert page.input_value("#api-key") == stack.api_key


def test_screen_readers_hear_each_job_end_naming_its_file(page: Page, stack, model, tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    short = tmp_path / "reef short.wav"
    sf.write(short, (0.01 * np.random.default_rng(1).standard_normal(16000 * 3)).astype(np.float32), 16000)
    open_console(page, stack)
    heard: list[str] = []
    page.expose_function("heard", lambda text: heard.append(text))
    page.evaluate("""() => new MutationObserver(() => {
        const text = document.querySelector('#announcer').textContent;
        if (text) window.heard(text);
    }).observe(document.querySelector('#announcer'), {childList: true, characterData: true, subtree: true})""")
    assert page.get_attribute("#announcer", "aria-live") == "polite"
    card = pick(page, short)
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    expect(card.locator("[data-testid=results]")).to_be_visible()
    deadline = time.monotonic() + 10
    while not any(text.startswith("reef short.wav: done, ") for text in heard) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert any(text.startswith("reef short.wav: done, ") and text.endswith(" found") for text in heard), heard
    assert "reef short.wav: succeeded" in heard
    # The timeline's markers are not tab stops: the table holds every event for the keyboard.
    assert all(m.get_attribute("tabindex") == "-1" for m in card.locator(".timeline-event").all())


def test_settings_are_taken_when_the_files_are_added_and_a_decimal_comma_reads_as_a_point(
    page: Page, stack, tmp_path: Path
) -> None:
    """A file is hashed before its job is made: a threshold changed meanwhile (for the next
    batch) reached the job already dropped, without a word. And "0,5" in a number field became
    "05", ten times the shortest event the biologist meant (no calls found)."""
    import numpy as np
    import soundfile as sf

    recording = tmp_path / "six minutes.wav"  # 11.5 MB (the test stack takes 12 MB at most): hashed a while
    sf.write(recording, np.zeros(16000 * 360, dtype=np.int16), 16000, subtype="PCM_16")
    open_console(page, stack)
    page.locator("details.params summary").click()
    page.fill("#param-threshold", "0.9")
    page.fill("#param-min-event", "0,5")
    card = pick(page, recording)
    page.fill("#param-threshold", "0.3")  # while the file is being checked: for the next batch
    expect(card).to_have_attribute("data-job-id", re.compile(".+"), timeout=60_000)
    expect(card.locator("[data-testid=job-settings]")).to_have_text(
        "Settings: threshold 0.9, shortest event (s) 0.5; the rest the model's.")
    job = requests.get(f"{stack.base_url}/jobs/{card.get_attribute('data-job-id')}",
                       headers={"x-api-key": stack.api_key}, timeout=30).json()
    assert job["params"] == {"threshold": 0.9, "min_event_s": 0.5}


def test_earlier_jobs_beyond_the_first_page_are_reached_with_show_more(page: Page, stack) -> None:
    """Only the API's first page (20 jobs) was read: after a batch of more than 20 files the
    oldest results were out of the console's reach once the tab was reloaded."""
    created = [requests.post(f"{stack.base_url}/jobs", headers={"x-api-key": stack.api_key}, timeout=30,
                             json={"filename": f"batch {i:02d}.wav", "size_bytes": 1000}).json()["job_id"]
               for i in range(23)]
    open_console(page, stack)
    recent = page.locator("#recent-list li")
    expect(recent).to_have_count(20)
    more = page.locator("#recent-more")
    expect(more).to_be_visible()
    while more.is_visible():  # each click waits for its page: a second click raced the button's hiding
        before = recent.count()
        more.click()
        expect(recent).not_to_have_count(before)
    shown = {item.get_attribute("data-job-id") for item in recent.all()}
    assert set(created) <= shown, "every job of the batch is reachable"


def _recorder_card(root: Path, clip: Path) -> Path:
    """A recorder's card as a biologist copies it: days as sub-folders, logs and settings
    beside the audio, hidden files a file manager leaves."""
    card = root / "card from the recorder"
    (card / "day 2").mkdir(parents=True)
    (card / ".Trashes").mkdir()
    shutil.copy(clip, card / "reef 1.wav")
    shutil.copy(clip, card / "day 2" / "reef 2.WAV")
    shutil.copy(clip, card / ".Trashes" / "deleted.wav")
    shutil.copy(clip, card / "._reef 1.wav")  # macOS's resource fork: not a recording
    (card / "recorder.log").write_text("battery 80 %\n")
    (card / "day 2" / "settings.txt").write_text("gain 20 dB\n")
    return card


def _drop_paths(page: Page, paths: list[Path]) -> None:
    """Drop files and folders from the file system on the drop zone, as a file manager does
    (Chromium's own drag events: a folder dropped so can be walked, unlike a DataTransfer
    made in the page)."""
    cdp = page.context.new_cdp_session(page)
    box = page.locator("#drop").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + 20
    data = {"items": [], "files": [str(p) for p in paths], "dragOperationsMask": 1}
    for kind in ("dragEnter", "dragOver", "drop"):
        cdp.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})


def _short_clip(tmp_path: Path) -> Path:
    import numpy as np
    import soundfile as sf

    clip = tmp_path / "clip.wav"
    sf.write(clip, np.zeros(16000, dtype=np.float32), 8000)
    return clip


def test_a_dropped_folder_s_recordings_go_up_with_its_neighbours(page: Page, stack, tmp_path: Path) -> None:
    """A folder dropped from a file manager got an ERROR card, "cannot be read ... Pick it
    again", then only a notice to open it: a recorder's card is a folder, and its recordings
    are what the biologist means to send."""
    clip = _short_clip(tmp_path)
    card = _recorder_card(tmp_path, clip)
    beside = tmp_path / "beside.wav"
    shutil.copy(clip, beside)
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    _drop_paths(page, [card, beside])
    expect(page.locator("#notice")).to_have_text(
        "card from the recorder: 2 recordings added; 2 other files left out (not audio by name).")
    expect(page.locator(".card")).to_have_count(3)
    # Added in path order below the folder, after the file beside it; the newest card is on top.
    expect(page.locator(".card h3")).to_have_text(
        ["card from the recorder/reef 1.wav", "card from the recorder/day 2/reef 2.WAV", "beside.wav"])


def test_a_dropped_folder_is_read_past_its_first_hundred_entries(page: Page, stack, tmp_path: Path) -> None:
    """Chromium lists a folder 100 entries at a time: a walk that asked once missed the rest."""
    folder = tmp_path / "long deployment"
    folder.mkdir()
    for i in range(130):
        (folder / f"log {i:03d}.txt").write_text("x")
    shutil.copy(_short_clip(tmp_path), folder / "zz last.wav")
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    _drop_paths(page, [folder])
    expect(page.locator("#notice")).to_have_text(
        "long deployment: 1 recording added; 130 other files left out (not audio by name).")
    expect(page.locator(".card h3")).to_have_text(["long deployment/zz last.wav"])


def test_a_folder_without_recordings_says_what_was_looked_for(page: Page, stack, tmp_path: Path) -> None:
    from anemonefish.audio import AUDIO_SUFFIXES

    folder = tmp_path / "notes only"
    folder.mkdir()
    (folder / "deployment.csv").write_text("site,depth\n")
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    _drop_paths(page, [folder])
    expect(page.locator("#notice")).to_have_text(
        f"notes only: no recordings in this folder (looked for {' '.join(sorted(AUDIO_SUFFIXES))}).")
    expect(page.locator("#notice")).to_have_class("notice error")
    expect(page.locator(".card")).to_have_count(0)


def test_a_chosen_folder_sends_its_recordings(page: Page, stack, tmp_path: Path) -> None:
    card = _recorder_card(tmp_path, _short_clip(tmp_path))
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    page.set_input_files("#folder-input", str(card))
    expect(page.locator("#notice")).to_have_text(
        "card from the recorder: 2 recordings added; 2 other files left out (not audio by name).")
    expect(page.locator(".card h3")).to_have_text(
        ["card from the recorder/reef 1.wav", "card from the recorder/day 2/reef 2.WAV"])


def test_recordings_of_one_name_in_two_sub_folders_are_two_jobs_named_by_their_path(
    page: Page, stack, tmp_path: Path
) -> None:
    """Two recorders on one schedule: site B's 20240101_000000.WAV was skipped as "already being
    prepared" (same name, size and date as site A's), or, of another size, got a card and a job
    named exactly as site A's, their results not to be told apart. Dropped again, the folder's
    notice said only its last file's news."""
    clip = _short_clip(tmp_path)
    season = tmp_path / "season"
    for site in ("site A", "site B"):
        (season / site).mkdir(parents=True)
        shutil.copy(clip, season / site / "20240101_000000.WAV")
    posted: list[str] = []
    page.on("request", lambda r: posted.append(json.loads(r.post_data)["filename"])
            if r.method == "POST" and urlparse(r.url).path == "/jobs" else None)
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    _drop_paths(page, [season])
    titles = ["season/site B/20240101_000000.WAV", "season/site A/20240101_000000.WAV"]
    expect(page.locator(".card h3")).to_have_text(titles)
    for card in page.locator(".card").all():
        expect(card).to_have_attribute("data-upload-state", "uploaded", timeout=60_000)
    assert sorted(posted) == sorted(titles)
    _drop_paths(page, [season])  # again: each file is said once, in one notice with the count
    expect(page.locator("#notice")).to_have_text(
        "season: 2 recordings added. season/site A/20240101_000000.WAV, season/site B/20240101_000000.WAV are "
        "already sent from this page with these settings: see their cards below.")
    expect(page.locator(".card")).to_have_count(2)
    assert sorted(posted) == sorted(titles), "the API would answer with the same jobs: nothing is asked of it"


def test_an_interrupted_upload_is_resumed_by_its_own_file_of_a_folder_not_a_namesake(page: Page, stack) -> None:
    """Two recorders' 20240101_000000.WAV of one size and date, dropped as a folder after a
    reload, both matched site A's interrupted upload: one job resumed with two files."""
    open_console(page, stack)
    matched = page.evaluate("""async () => {
        const { PendingStore } = await import('./upload.js');
        const store = new PendingStore(window.sessionStorage, "test.upload:");
        const when = 1700000000000;
        store.save({ job_id: "site-a-job", name: "20240101_000000.WAV", path: "season/site A/20240101_000000.WAV",
                     size: 4, last_modified: when });
        const file = (path) => {
            const made = new File([new Uint8Array(4)], "20240101_000000.WAV", { lastModified: when });
            if (path) made.relativePath = path;
            return made;
        };
        const id = (record) => (record ? record.job_id : null);
        const result = {
            own: id(store.match(file("season/site A/20240101_000000.WAV"))),
            namesake: id(store.match(file("season/site B/20240101_000000.WAV"))),
            alone: id(store.match(file(null))),  // picked by itself: no path to compare
        };
        store.remove("site-a-job");
        return result;
    }""")
    assert matched == {"own": "site-a-job", "namesake": None, "alone": "site-a-job"}


def test_a_refused_key_stops_the_files_waiting_for_their_check_and_focus_stays_in_the_list(
    page: Page, stack
) -> None:
    """Each file of a folder was checked in full, then refused for the key, one after another;
    and a card removed from the keyboard dropped the focus to the top of the page."""
    page.add_init_script('Object.defineProperty(navigator, "hardwareConcurrency", { get: () => 2 });')  # one check at a time
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and urlparse(r.url).path == "/jobs" else None)
    open_console(page, stack, key="not-the-key")
    expect(page.locator("#key-status")).to_contain_text("refused")
    _drop_made_files(page, 5)
    expect(page.locator(".card[data-job-status=ERROR]")).to_have_count(5)
    assert len(posts) == 1  # the first refusal stopped the others before their job was asked for
    for card in page.locator(".card").all():
        expect(card.locator(".message")).to_contain_text("key")
    remove = page.get_by_role("button", name="Remove the card of reef 02.wav")
    remove.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".card")).to_have_count(4)
    assert page.evaluate("document.activeElement.tagName") == "H3"


def test_the_console_and_the_detector_find_recordings_by_the_same_suffixes(page: Page, stack) -> None:
    from anemonefish.audio import AUDIO_SUFFIXES

    open_console(page, stack)
    in_console = page.evaluate("async () => (await import('./recordings.js')).AUDIO_SUFFIXES")
    assert in_console == sorted(AUDIO_SUFFIXES)
    # Hidden below the folder is no recording; a hidden folder the user chose itself is read.
    paths = [".season/rec.wav", "season/.x/rec.wav", "season/._rec.wav", "season/day 1/REC.FLAC", "season/notes.txt"]
    kept = page.evaluate("async (paths) => { const m = await import('./recordings.js'); "
                         "return paths.filter((p) => m.isRecordingPath(p)); }", paths)
    assert kept == [".season/rec.wav", "season/day 1/REC.FLAC"]
    accepted = page.get_attribute("#file-input", "accept").split(",")
    assert set(accepted) == {"audio/*", *AUDIO_SUFFIXES}


def test_many_files_never_send_more_parts_at_once_than_the_browser_has_connections(
    page: Page, stack, tmp_path: Path
) -> None:
    """Chromium sends at most 6 requests at once to one host: 24 files x 4 parts on a slow link
    queued unsent, their stall watchdogs aborted parts that had not begun, and the files paused
    as 'Network failure', never to resume. The page sends at most 6 PUTs at once now."""
    import numpy as np
    import soundfile as sf

    page.add_init_script("""(() => {
      window.__puts = { now: 0, most: 0 };
      const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
      XMLHttpRequest.prototype.open = function (method, ...rest) { this.__put = method === "PUT"; return open.call(this, method, ...rest); };
      XMLHttpRequest.prototype.send = function (...args) {
        if (this.__put) {
          window.__puts.now += 1;
          window.__puts.most = Math.max(window.__puts.most, window.__puts.now);
          // Done at readyState 4, which comes before loadend, whose handler lets the next part go.
          let done = false;
          const end = () => { if (!done) { done = true; window.__puts.now -= 1; } };
          this.addEventListener("readystatechange", () => { if (this.readyState === 4) end(); });
          this.addEventListener("abort", end);
        }
        return send.apply(this, args);
      };
    })();""")
    files = []
    for i in range(4):  # 3 parts each: 12 parts wanted at once by 4 uploads of 4 workers
        path = tmp_path / f"site {i}.wav"
        sf.write(path, np.zeros(16000 * 95, dtype=np.int16), 16000, subtype="PCM_16")
        files.append(str(path))
    open_console(page, stack)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 20, "downloadThroughput": -1,
                                                   "uploadThroughput": 4 * 1024 * 1024})
    page.set_input_files("#file-input", files)
    cards = page.locator(".card")
    expect(cards).to_have_count(4)
    for index in range(4):
        expect(cards.nth(index)).to_have_attribute("data-upload-state", "uploaded", timeout=120_000)
    most = page.evaluate("() => window.__puts.most")
    assert 2 <= most <= 6, most


def test_a_paused_single_put_whose_job_ended_meanwhile_is_not_sent_again(page: Page, stack, tmp_path: Path) -> None:
    """A multipart upload asks the API for its parts on Resume (and turns GONE on a 404); a single
    PUT went straight back to its old link: after a local stack's restart it failed as 'Network
    failure' however often Resume was pressed. It asks the API for its job first now."""
    import numpy as np
    import soundfile as sf

    recording = tmp_path / "small.wav"  # under the test stack's 1 MiB multipart threshold: one PUT
    sf.write(recording, np.zeros(16000 * 28, dtype=np.int16), 16000, subtype="PCM_16")
    page.add_init_script("""(() => {
      window.__puts = 0;
      const open = XMLHttpRequest.prototype.open;
      XMLHttpRequest.prototype.open = function (method, ...rest) { if (method === "PUT") window.__puts += 1; return open.call(this, method, ...rest); };
    })();""")
    open_console(page, stack)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 20, "downloadThroughput": -1,
                                                   "uploadThroughput": 32 * 1024})
    card = pick(page, recording)
    expect(card).to_have_attribute("data-upload-method", "PUT", timeout=30_000)
    expect(card).to_have_attribute("data-upload-state", "uploading")
    card.locator("button[data-action=pause]").click()
    expect(card).to_have_attribute("data-upload-state", "paused")
    job_id = card.get_attribute("data-job-id")
    assert requests.delete(f"{stack.base_url}/jobs/{job_id}", headers={"x-api-key": stack.api_key}, timeout=30).ok
    card.locator("button[data-action=resume]").click()
    expect(card).to_have_attribute("data-job-status", "CANCELLED", timeout=30_000)
    assert page.evaluate("() => window.__puts") == 1


def test_each_cards_buttons_and_links_name_its_recording(page: Page, stack, recording: Path, model) -> None:
    """With three files up, a screen reader heard "Pause, Pause, Pause" and "JSON, JSON, JSON"."""
    open_console(page, stack)
    card = pick(page, recording)
    expect(card.get_by_role("button", name=f"Cancel the job of {recording.name}")).to_have_count(1)
    expect(card.get_by_role("button", name=f"Pause the upload of {recording.name}", include_hidden=True)).to_have_count(1)
    cancel = card.locator("button[data-action=cancel]")
    expect(cancel).to_be_enabled()
    cancel.focus()  # a keyboard user on the card's Cancel button when the job ends
    expect(card).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    expect(card.get_by_role("link", name=f"JSON of {recording.name}")).to_have_count(1)
    # The hidden button's focus went to the page's top; it stays on the card now.
    expect(card.locator("h3")).to_be_focused()


def _job_answers(page: Page) -> list[int]:
    """The HTTP status of each POST /jobs answer: 201 a job made, 200 one its key made before."""
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status)
            if r.request.method == "POST" and urlparse(r.url).path == "/jobs" else None)
    return answers


def _reopen(page: Page) -> None:
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#key-status")).to_have_text("Key accepted.")


def _sent_and_reloaded(page: Page, stack, clip: Path) -> str:
    """Send ``clip``, wait for its job to succeed and reload the page: the job's id."""
    open_console(page, stack)
    first = pick(page, clip)
    expect(first).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    job_id = first.get_attribute("data-job-id")
    _reopen(page)
    return job_id


def test_a_file_sent_before_is_shown_after_a_reload_not_uploaded_again(page: Page, stack, tmp_path: Path, model) -> None:
    """A folder dropped again after a reload (the laptop slept, the tab was closed) sent its
    finished recordings up again, each a new job, multi-GB files included: the same file with
    the same settings now names the job it made (its Idempotency-Key), which the card shows."""
    clip = _short_clip(tmp_path)
    job_id = _sent_and_reloaded(page, stack, clip)
    answers = _job_answers(page)
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    card = pick(page, clip)
    expect(card).to_have_attribute("data-upload-state", "sent-before")
    assert card.get_attribute("data-job-id") == job_id
    expect(card.locator("[data-testid=job-status]")).to_have_text("SUCCEEDED")
    expect(card.locator("[data-testid=job-settings]")).to_contain_text(
        "Sent before with these settings on 20")  # its date
    expect(card.locator("[data-testid=results]")).to_be_visible()
    assert answers == [200] and puts == []
    # Added once more on this page: its card is pointed at, no second card.
    page.set_input_files("#file-input", str(clip))
    expect(page.locator("#notice")).to_have_text(
        "clip.wav is already sent from this page with these settings: see its card below.")
    expect(page.locator(".card")).to_have_count(1)
    assert answers == [200]


def test_a_file_whose_job_was_cancelled_or_sent_with_other_settings_makes_a_new_job(
    page: Page, stack, tmp_path: Path
) -> None:
    """Added again, a file whose job ended without results is what the user wants analysed, and
    other settings are another analysis: each gets a job of its own, not the earlier one."""
    clip = _short_clip(tmp_path)
    page.route(lambda url: "/uploads/" in urlparse(url).path, lambda route: None)  # its PUT hangs
    open_console(page, stack)
    card = pick(page, clip)
    expect(card.locator("button[data-action=cancel]")).to_be_enabled()
    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("button[data-action=cancel]").click()
    expect(card).to_have_attribute("data-upload-state", "cancelled")
    cancelled = card.get_attribute("data-job-id")
    page.unroute_all(behavior="ignoreErrors")
    _reopen(page)
    answers = _job_answers(page)
    again = pick(page, clip)
    expect(again).to_have_attribute("data-upload-state", "uploaded", timeout=60_000)
    assert again.get_attribute("data-job-id") != cancelled
    assert answers == [200, 201]  # the cancelled job found by its key, then the next key's new job
    expect(again.locator("[data-testid=job-settings]")).to_contain_text(
        "Its earlier job ended cancelled: this is a new one.")
    renewed = again.get_attribute("data-job-id")

    _reopen(page)  # the new job is the one found from now on
    found = pick(page, clip)
    expect(found).to_have_attribute("data-upload-state", "sent-before")
    assert found.get_attribute("data-job-id") == renewed

    page.click(".params summary")
    page.fill("#param-threshold", "0.7")
    page.set_input_files("#file-input", str(clip))
    expect(page.locator("#notice")).to_have_text(
        "clip.wav: sent from this page before with other settings, or its job ended without results; "
        "analysed again as a new job.")
    other = page.locator(".card").first
    expect(other).to_have_attribute("data-upload-state", "uploaded", timeout=60_000)
    assert other.get_attribute("data-job-id") not in (cancelled, renewed)
    expect(other.locator("[data-testid=job-settings]")).to_contain_text("threshold 0.7")


def test_an_interrupted_upload_whose_saved_record_is_gone_is_resumed_by_its_job_key(
    page: Page, stack, recording: Path
) -> None:
    """An upload interrupted in another browser, or after the site's storage was cleared, left
    no record to resume from: its job, found again by its key, sends only the parts S3 lacks."""
    page.route(lambda url: (part_number(url) or 0) >= 3, lambda route: None)  # held, then cut by the reload
    open_console(page, stack)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-parts-done", "2", timeout=60_000)
    job_id = card.get_attribute("data-job-id")
    total = int(card.get_attribute("data-parts-total") or 0)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.unroute_all(behavior="ignoreErrors")
    page.evaluate("""() => Object.keys(localStorage)
        .filter((k) => k.startsWith('anemonefish.console.upload'))
        .forEach((k) => localStorage.removeItem(k))""")
    _reopen(page)
    expect(page.locator("#pending")).to_be_hidden()
    answers = _job_answers(page)
    puts = record_part_puts(page)
    card = pick(page, recording)
    expect(card).to_have_attribute("data-upload-state", "uploaded", timeout=60_000)
    assert card.get_attribute("data-job-id") == job_id and answers == [200]
    assert sorted(part_number(r.url) for r in puts) == list(range(3, total + 1))


def test_cancel_all_stops_every_unfinished_card_after_one_question_and_keeps_the_finished(
    page: Page, stack, tmp_path: Path, model
) -> None:
    """A folder dropped by mistake was cancelled card by card, a question each."""
    done = _short_clip(tmp_path)
    open_console(page, stack)
    first = pick(page, done)
    expect(first).to_have_attribute("data-job-status", "SUCCEEDED", timeout=JOB_TIMEOUT_MS)
    finished = page.locator(f".card[data-job-id='{first.get_attribute('data-job-id')}']")
    expect(page.locator("#cancel-all")).to_be_hidden()
    page.route(lambda url: "/uploads/" in urlparse(url).path, lambda route: None)  # their PUTs hang
    folder = tmp_path / "mistake"
    folder.mkdir()
    for i in range(3):
        shutil.copyfile(done, folder / f"wrong-{i}.wav")
    _drop_paths(page, [folder])
    unfinished = page.locator(".card[data-upload-state=uploading]")
    expect(unfinished).to_have_count(3, timeout=60_000)
    button = page.locator("#cancel-all")
    expect(button).to_have_text("Cancel all 3 unfinished")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    button.click()
    assert asked == ["Cancel the jobs of all 3 recordings not finished? Their results will not be made; "
                     "those finished stay."]
    expect(unfinished).to_have_count(3)  # answered no: nothing stopped
    page.once("dialog", lambda dialog: dialog.accept())
    button.click()
    expect(page.locator(".card[data-upload-state=cancelled]")).to_have_count(3)
    expect(button).to_be_hidden()
    for card in page.locator(".card[data-upload-state=cancelled]").all():
        job = requests.get(f"{stack.base_url}/jobs/{card.get_attribute('data-job-id')}",
                           headers={"x-api-key": stack.api_key}, timeout=30).json()
        assert job["status"] == "CANCELLED"
    expect(finished.locator("[data-testid=job-status]")).to_have_text("SUCCEEDED")
    page.unroute_all(behavior="ignoreErrors")


def test_cancel_all_takes_off_the_cards_still_being_checked_and_cancels_a_job_made_meanwhile(
    page: Page, stack
) -> None:
    """Cards waiting for or undergoing their check have no job yet: Cancel all takes them off, as
    their Remove does, and a job being made as it is pressed is cancelled once it exists."""
    page.add_init_script('Object.defineProperty(navigator, "hardwareConcurrency", { get: () => 2 });')  # one check at a time
    held: list[Route] = []
    page.route(lambda url: urlparse(url).path == "/jobs",
               lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    deletes: list[str] = []
    page.on("request", lambda r: deletes.append(r.url) if r.method == "DELETE" else None)
    open_console(page, stack)
    expect(page.locator("#key-status")).to_have_text("Key accepted.")
    _drop_made_files(page, 4)
    expect(page.locator(".card", has_text="reef 03.wav")).to_contain_text("Waiting for the files before it to be checked…")
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:  # the first file's job is being made
        page.wait_for_timeout(50)
    button = page.locator("#cancel-all")
    expect(button).to_have_text("Cancel all 4 unfinished")
    page.once("dialog", lambda dialog: dialog.accept())
    button.click()
    expect(page.locator(".card")).to_have_count(0)
    expect(button).to_be_hidden()
    for route in held:
        route.continue_()
    deadline = time.monotonic() + 10
    while len(deletes) < len(held) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    page.wait_for_timeout(500)  # no other check ran on, no other job was asked for
    assert len(held) == 1 and len(deletes) == 1


def test_a_card_removed_while_its_earlier_job_is_looked_up_stays_removed(page: Page, stack, tmp_path: Path, model) -> None:
    """Removed while the job its key found was being read, the card came back as a ghost the
    page followed: added once more, the file was pointed at a card no one could see."""
    clip = _short_clip(tmp_path)
    job_id = _sent_and_reloaded(page, stack, clip)
    held: list[Route] = []
    page.route(re.compile(rf".*/jobs/{job_id}$"), lambda route: held.append(route))
    card = pick(page, clip)
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    card.get_by_role("button", name="Remove the card of clip.wav").click()
    expect(page.locator(".card")).to_have_count(0)
    for route in held:
        route.continue_()
    page.unroute_all(behavior="ignoreErrors")
    page.wait_for_timeout(500)
    expect(page.locator(".card")).to_have_count(0)
    page.set_input_files("#file-input", str(clip))  # shown once more, on a card of its own
    expect(page.locator(".card")).to_have_count(1)
    expect(page.locator(".card").first).to_have_attribute("data-upload-state", "sent-before")


def test_a_name_with_a_bidirectional_override_goes_with_a_space_for_it(page: Page, stack, tmp_path: Path) -> None:
    """The API refuses U+202E in a name ("reef\u202ev.wav" shows as another): the console sent it and
    got a 400 card; it sends a space instead, as submit does."""
    named = shutil.copyfile(_short_clip(tmp_path), tmp_path / "reef\u202ev.wav")
    posted: list[str] = []
    page.on("request", lambda r: posted.append(json.loads(r.post_data)["filename"])
            if r.method == "POST" and urlparse(r.url).path == "/jobs" else None)
    open_console(page, stack)
    card = pick(page, named)
    expect(card).to_have_attribute("data-upload-state", "uploaded", timeout=60_000)
    assert posted == ["reef v.wav"]
