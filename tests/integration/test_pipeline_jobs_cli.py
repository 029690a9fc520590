"""``anemonefish jobs``: jobs created elsewhere, listed, shown, fetched and cancelled over the
local stack's HTTP API (its own key, so the listing holds only this file's jobs)."""

from __future__ import annotations

import json

import pytest

from anemonefish_services.cli import main

KEY = "key-cli"


@pytest.fixture
def cli(pipeline, monkeypatch):
    monkeypatch.setenv("ANEMONEFISH_API_URL", pipeline.api_url)
    monkeypatch.setenv("ANEMONEFISH_API_KEY", KEY)
    return main


def _submitted(cli, tmp_path, name, data, capsys):
    recording = tmp_path / name
    recording.write_bytes(data)
    assert cli(["submit", str(recording), "-o", str(tmp_path / "submitted"), "--new"]) == 0
    capsys.readouterr()
    return recording


def test_a_finished_job_is_listed_shown_and_fetched_as_submit_saved_it(cli, pipeline, short_wav, tmp_path, capsys):
    recording = _submitted(cli, tmp_path, "reef night.wav", short_wav, capsys)
    waiting = pipeline.call("POST", "/jobs", key=KEY, json={"filename": "later.wav", "size_bytes": 100}).json()

    assert cli(["jobs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [j["filename"] for j in listed[:2]] == ["later.wav", "reef night.wav"]  # newest first
    done = listed[1]
    assert done["status"] == "SUCCEEDED" and listed[0]["status"] == "AWAITING_UPLOAD"
    assert cli(["jobs", "list", "--limit", "1"]) == 0  # piped: tab-separated, one line a job
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split("\t")[:3] == ["job id", "created (UTC)", "status"]
    assert [row.split("\t")[:4:2] for row in rows] == [[waiting["job_id"], "AWAITING_UPLOAD"]]

    assert cli(["jobs", "show", done["job_id"]]) == 0
    shown = capsys.readouterr().out
    assert "SUCCEEDED" in shown and "reef night.wav" in shown
    assert f"{done['result']['events_count']} call(s)" in shown and "json, csv, raven, audacity, scores" in shown

    out = tmp_path / "fetched"
    assert cli(["jobs", "fetch", done["job_id"], "-o", str(out)]) == 0
    assert done["job_id"] in capsys.readouterr().out
    submitted = tmp_path / "submitted"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in submitted.iterdir())
    for document in out.iterdir():  # the same documents, under the same names
        assert document.read_bytes() == (submitted / document.name).read_bytes(), document.name
    # Fetching again replaces its own results; a file that is not an earlier result is kept.
    assert cli(["jobs", "fetch", done["job_id"], "-o", str(out)]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "reef night.Table.1.selections.txt").write_text("a truth table\n")
    for extra in ([], ["--overwrite"]):  # which would lose it
        assert cli(["jobs", "fetch", done["job_id"], "-o", str(elsewhere), *extra]) == 1
        assert ("is not recognisably detect's output (a truth table, or labels made or edited by hand?); not replacing "
                "it, even with --overwrite: write the results elsewhere with -o (or delete it") in capsys.readouterr().err
    assert (elsewhere / "reef night.Table.1.selections.txt").read_text() == "a truth table\n"
    assert recording.exists()


def test_unfinished_unknown_and_foreign_jobs_are_errors_naming_the_job(cli, pipeline, tmp_path, capsys):
    waiting = pipeline.call("POST", "/jobs", key=KEY, json={"filename": "pending.wav", "size_bytes": 100}).json()
    foreign = pipeline.call("POST", "/jobs", key="key-b", json={"filename": "theirs.wav", "size_bytes": 100}).json()
    job_id = waiting["job_id"]

    assert cli(["jobs", "fetch", job_id, "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    # Ctrl-C during submit's upload leaves its job here: waiting would last until it expires.
    assert (f"error: {job_id}: pending.wav is AWAITING_UPLOAD, no results; its file has not been uploaded (all of "
            "it): if a submit of it was interrupted, running that submit again resumes the upload; --wait waits for "
            "the upload") in " ".join(err.split())
    assert cli(["jobs", "fetch", job_id, "--wait", "--timeout", "0.5", "-o", str(tmp_path / "out")]) == 1
    assert f"error: {job_id}: job {job_id} is still AWAITING_UPLOAD after 0.5 s" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())

    for command in (["jobs", "show", foreign["job_id"]], ["jobs", "fetch", foreign["job_id"]],
                    ["jobs", "cancel", foreign["job_id"]]):
        assert cli(command) == 1
        assert f"error: {foreign['job_id']}: 404" in capsys.readouterr().err
    assert pipeline.call("GET", f"/jobs/{foreign['job_id']}", key="key-b").json()["status"] == "AWAITING_UPLOAD"

    assert cli(["jobs", "cancel", job_id]) == 0
    assert f"{job_id}: CANCELLED" in capsys.readouterr().out
    assert cli(["jobs", "cancel", job_id]) == 1
    assert f"error: {job_id}: already CANCELLED; only a job that has not finished can be cancelled" in capsys.readouterr().err
    # --wait ends at once for a job that has ended, and says how it ended.
    assert cli(["jobs", "fetch", job_id, "--wait", "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"error: {job_id}: pending.wav is CANCELLED" in err and "--wait" not in err
    assert cli(["jobs", "list", "--api-key", "wrong"]) == 1
    assert "error: 403 forbidden: invalid API key" in capsys.readouterr().err


def test_fetch_waits_for_a_job_being_uploaded_and_refuses_two_jobs_of_one_recording_in_one_folder(
    cli, pipeline, short_wav, tmp_path, capsys
):
    import threading

    import requests

    first = pipeline.call("POST", "/jobs", key=KEY, json={"filename": "twice.wav", "size_bytes": len(short_wav)}).json()
    second = pipeline.call("POST", "/jobs", key=KEY, json={"filename": "twice.wav", "size_bytes": len(short_wav)}).json()
    for created in (first, second):
        assert requests.put(created["upload"]["url"], data=short_wav, timeout=30).status_code == 200
    # The uploads are in; the worker picks them up while fetch waits.
    outcome: list[int] = []
    fetcher = threading.Thread(target=lambda: outcome.append(
        cli(["jobs", "fetch", first["job_id"], second["job_id"], "--wait", "--timeout", "60", "-o", str(tmp_path / "out")])))
    fetcher.start()
    fetcher.join(90)
    assert outcome == [1]
    captured = capsys.readouterr()
    assert f"{first['job_id']}: twice.wav:" in captured.out
    assert (f"error: {second['job_id']}: its results would replace those of job {first['job_id']}"
            in captured.err)
    document = json.loads((tmp_path / "out" / "twice.events.json").read_text())
    assert document["job_id"] == first["job_id"]


def test_a_rerun_of_submit_on_a_failed_job_says_how_to_submit_it_again(cli, tmp_path, capsys):
    """The same file and request find the same job: its failure comes back, with the way out."""
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio " * 200)
    assert cli(["submit", str(broken), "-o", str(tmp_path / "out")]) == 1
    first = capsys.readouterr().out
    assert "FAILED" in first and "unsupported_audio" in first and "--new" not in first
    assert cli(["submit", str(broken), "-o", str(tmp_path / "out")]) == 1
    again = " ".join(capsys.readouterr().out.split())  # the table wraps long reasons
    assert "an earlier submit of this file created, which ended FAILED: --new submits the file again" in again
    assert cli(["jobs", "fetch", "some-job", "--timeout", "5"]) == 2
    assert "error: --timeout: it limits --wait, which was not given" in capsys.readouterr().err


def test_a_job_whose_filename_names_a_folder_is_fetched_again_into_the_same_place(cli, pipeline, short_wav, tmp_path, capsys):
    import requests

    created = pipeline.call("POST", "/jobs", key=KEY,
                            json={"filename": "site-a/nested.wav", "size_bytes": len(short_wav)}).json()
    assert requests.put(created["upload"]["url"], data=short_wav, timeout=30).status_code == 200
    out = tmp_path / "out"
    assert cli(["jobs", "fetch", created["job_id"], "--wait", "--timeout", "60", "-o", str(out)]) == 0
    assert (out / "nested.events.json").exists()
    # Its own earlier result: replaced, not refused as someone else's file.
    assert cli(["jobs", "fetch", created["job_id"], "-o", str(out)]) == 0, capsys.readouterr().err


def test_a_jobs_warnings_are_printed_by_show_fetch_and_submit(cli, tmp_path, capsys):
    """The console shows a job's warnings; the commands must not leave them in the JSON only."""
    import numpy as np
    import soundfile as sf

    whole = tmp_path / "whole.wav"
    sf.write(whole, np.zeros(16000 * 6, dtype=np.float32), 16000, subtype="PCM_16")
    cut = tmp_path / "half.wav"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert cli(["submit", str(cut), "-o", str(tmp_path / "out"), "--new"]) == 0
    captured = capsys.readouterr()
    expected = "half.wav: its header declares 6.0 s of audio but the file ends after 3.0 s"
    # Named once, by the path given (the job's warning names the bare file).
    assert f"warning: {cut}: its header declares 6.0 s of audio but the file ends after 3.0 s" in captured.err
    job_id = json.loads((tmp_path / "out" / "half.events.json").read_text())["job_id"]
    assert cli(["jobs", "show", job_id]) == 0
    assert f"warning   {expected}" in capsys.readouterr().out
    assert cli(["jobs", "fetch", job_id, "-o", str(tmp_path / "again")]) == 0
    assert f"warning: {job_id}: {expected}" in capsys.readouterr().err


def test_another_recording_of_the_same_name_does_not_replace_the_first_ones_results(cli, short_wav, tmp_path, capsys):
    """Two recorders' 20240101_000000.wav submitted one after the other into one -o: the second
    replaced the first's results without a word, and so did fetching the first job again over
    the second's. Their documents now carry the SHA-256 the upload was checked against."""
    import hashlib

    out = tmp_path / "out"
    first, second = tmp_path / "site-a" / "reef.wav", tmp_path / "site-b" / "reef.wav"
    for path, data in ((first, short_wav), (second, short_wav[:-2] + b"\x01\x00")):  # one sample differs
        path.parent.mkdir()
        path.write_bytes(data)
    assert cli(["submit", str(first), "-o", str(out), "--new"]) == 0
    kept = (out / "reef.events.json").read_text()
    first_job = json.loads(kept)["job_id"]
    assert json.loads(kept)["audio"]["sha256"] == hashlib.sha256(short_wav).hexdigest()
    capsys.readouterr()

    assert cli(["submit", str(second), "-o", str(out), "--new"]) == 1
    captured = capsys.readouterr()
    assert "holds the results of another recording named reef.wav" in " ".join(captured.out.split())
    assert (out / "reef.events.json").read_text() == kept  # no job was made for it, nothing replaced
    assert cli(["submit", str(first), "-o", str(out)]) == 0  # a rerun of the same file replaces its own
    assert cli(["submit", str(second), "-o", str(out), "--new", "--overwrite"]) == 0
    second_document = (out / "reef.events.json").read_text()
    assert json.loads(second_document)["job_id"] != first_job
    capsys.readouterr()

    assert cli(["jobs", "fetch", first_job, "-o", str(out)]) == 1
    assert "holds the results of another recording named reef.wav" in " ".join(capsys.readouterr().err.split())
    assert (out / "reef.events.json").read_text() == second_document


def test_piped_output_is_one_line_a_file_with_names_whole(cli, short_wav, tmp_path, capsys):
    """Piped into a log, submit's output was laid out for 80 columns: the table cut names to one
    prefix and each 'NAME: job ID STATUS' line wrapped where grep could not find it."""
    import re

    names = [f"ST5783_reef_siteA_20190920_{hhmmss}_hydrophone_B_channel_1.wav" for hhmmss in ("004248", "014248")]
    for name in names:
        (tmp_path / name).write_bytes(short_wav)
    assert cli(["submit", *(str(tmp_path / n) for n in names), "-o", str(tmp_path / "out"), "--new"]) == 0
    out = capsys.readouterr().out
    for name in names:
        assert re.search(rf"^{re.escape(name)}: job [0-9a-f-]{{36}} SUCCEEDED ", out, re.M), out
        assert re.search(rf"^│ {re.escape(name)} ", out, re.M), out  # the events table names it whole


def test_result_links_download_under_the_recordings_whole_name(cli, pipeline, short_wav, tmp_path, capsys):
    """Names were reduced to ASCII for the download: two sites' 珊瑚礁_北側_2024-03-01.wav and
    산호초_남쪽_2024-03-01.wav both saved as 2024-03-01.*, one site's calls taken for the other's."""
    from urllib.parse import unquote

    import requests

    name = "珊瑚礁_北側_2024-03-01"
    recording = _submitted(cli, tmp_path, f"{name}.wav", short_wav, capsys)
    job_id = json.loads((tmp_path / "submitted" / f"{name}.events.json").read_text())["job_id"]
    links = pipeline.call("GET", f"/jobs/{job_id}", key=KEY).json()["result"]["links"]
    disposition = requests.get(links["raven"], timeout=30).headers["Content-Disposition"]
    assert 'filename="2024-03-01.Table.1.selections.txt"' in disposition  # for clients without filename*
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"{name}.Table.1.selections.txt"
    assert recording.name == f"{name}.wav"
