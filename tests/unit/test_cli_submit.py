"""``anemonefish submit``: what it refuses before it uploads anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anemonefish_services.cli import main
from support import write_tone_wav


def test_files_whose_results_would_share_a_name_are_refused_before_any_upload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Results download as OUTDIR/<stem>.*: two sites' 20240101_000000.wav would overwrite each other."""
    for site in ("site-a", "site-b"):
        (tmp_path / site).mkdir()
        write_tone_wav(tmp_path / site / "20240101_000000.wav", 1.0)
    out = tmp_path / "out"
    # Port 9 (discard) has no API behind it: reaching the network would fail with exit 1, not 2.
    args = ["submit", str(tmp_path / "site-a" / "20240101_000000.wav"), str(tmp_path / "site-b" / "20240101_000000.wav"),
            "--api", "http://127.0.0.1:9", "--api-key", "k", "-o", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'site-b' / '20240101_000000.wav'}: its results would replace those of" in err
    assert str(tmp_path / "site-a" / "20240101_000000.wav") in err
    assert not out.exists()


def test_files_submit_did_not_download_are_not_replaced_without_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Results download as <stem>.*, and <stem>.Table.1.selections.txt is Raven's own name for a truth table."""
    recording = write_tone_wav(tmp_path / "reef.wav", 1.0)
    truth = tmp_path / "reef.Table.1.selections.txt"
    truth.write_text("Selection\\tView\\tChannel\\tBegin Time (s)\\tEnd Time (s)\\n1\\tSpectrogram 1\\t1\\t0.1\\t0.2\\n")
    args = ["submit", str(recording), "--api", "http://127.0.0.1:9", "--api-key", "k", "-o", str(tmp_path)]
    assert main(args) == 2  # refused before any upload (port 9 would have failed with 1)
    err = capsys.readouterr().err
    # Pointed at -o, as detect does: --overwrite would lose the table.
    refusal = (f"error: {recording}: {truth} exists and is not recognisably detect's output (a truth table, or labels "
               "made or edited by hand?); not replacing it, even with --overwrite: write the results elsewhere with -o (or "
               "delete it, if it is an old result)")
    assert refusal in err
    assert main([*args, "--overwrite"]) == 2  # which would lose it: refused all the same
    assert refusal in capsys.readouterr().err
    # An earlier run's result document for this recording beside it (`detect --format json,scores`
    # leaves a truth table alone): the table is still someone's, and still refused.
    (tmp_path / "reef.events.json").write_text('{"audio": {"filename": "reef.wav"}, "events": []}')
    assert main(args) == 2
    assert f"{truth} exists and is not recognisably detect's output" in capsys.readouterr().err
    assert truth.read_text().startswith("Selection\\tView")
    # Beside an earlier run's own Raven table, all of them are results: a rerun replaces them.
    from anemonefish.formats import RAVEN_COLUMNS

    truth.write_text("\t".join(RAVEN_COLUMNS) + "\n")
    assert main(args) == 1  # past the guard: it tries the API, which is not there
    assert "not replacing" not in capsys.readouterr().err
    # Results of another recording of that name need --overwrite.
    (tmp_path / "reef.events.json").write_text('{"audio": {"filename": "other.wav"}, "events": []}')
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"error: {recording}: {tmp_path / 'reef.events.json'} exists; not replacing it (--overwrite replaces it)" in err


class _RecordingApi:
    """Stands in for the API to see what submit asks for; every job then reads as failed."""

    def __init__(self) -> None:
        self.created: list[dict] = []

    def create_job(self, filename: str, size_bytes: int, **request: object) -> dict:
        self.created.append({"filename": filename, "size_bytes": size_bytes, **request})
        return {"job_id": f"job-{len(self.created)}", "status": "QUEUED"}

    def get_job(self, job_id: str) -> dict:
        return {"job_id": job_id, "status": "FAILED", "error": {"code": "stub", "message": "not run"}}


def test_each_file_goes_with_its_sha256_unless_asked_not_to_and_keys_follow_the_request(tmp_path: Path) -> None:
    import hashlib
    import json

    from rich.console import Console

    from anemonefish_services.client.submit import submit_files
    from anemonefish_services.client.upload import file_fingerprint

    recording = write_tone_wav(tmp_path / "reef.wav", 1.0)
    digest = hashlib.sha256(recording.read_bytes()).hexdigest()
    api = _RecordingApi()
    submit_files(api, [recording], tmp_path / "out", console=Console(quiet=True), poll_interval_s=0)
    submit_files(api, [recording], tmp_path / "out", console=Console(quiet=True), poll_interval_s=0, checksum=False)
    with_digest, without = api.created
    assert with_digest["sha256"] == digest and without["sha256"] is None
    # Without a digest the key is the one earlier clients derived, so their interrupted
    # uploads still resume; with one it differs, as the request does.
    earlier = "submit-" + hashlib.sha256(json.dumps([file_fingerprint(recording), {}, None], sort_keys=True).encode()).hexdigest()[:40]
    assert without["idempotency_key"] == earlier != with_digest["idempotency_key"]


def test_a_job_the_api_never_created_is_reported_as_not_created_not_as_a_failed_upload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tone_wav(tmp_path / "a.wav", 1.0)
    # Port 9 (discard) has no API behind it: POST /jobs fails, so no upload was ever tried.
    assert main(["submit", str(tmp_path / "a.wav"), "--api", "http://127.0.0.1:9", "--api-key", "k",
                 "-o", str(tmp_path / "out")]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "a.wav: job - NOT_CREATED" in out and "UPLOAD_FAILED" not in out
    # One plain line naming the API, not urllib3's retry trace.
    assert "cannot reach the API at http://127.0.0.1:9 (ConnectionError)" in out and "Max retries" not in out


class _RefusingApi(_RecordingApi):
    """The API answering every POST /jobs with what it says of a threshold out of range."""

    def create_job(self, filename: str, size_bytes: int, **request: object) -> dict:
        from anemonefish_services.client.api import ApiError

        super().create_job(filename, size_bytes, **request)
        raise ApiError(400, "invalid_request", "invalid request: params.threshold: Input should be less than or equal to 1",
                       [{"field": "params.threshold", "message": "Input should be less than or equal to 1"}])


def test_a_request_the_api_refuses_for_its_params_is_an_option_error_not_one_per_file(tmp_path: Path) -> None:
    from rich.console import Console

    from anemonefish_services.client.submit import RequestRefusedError, submit_files

    files = [write_tone_wav(tmp_path / f"reef{i}.wav", 1.0) for i in range(3)]
    with pytest.raises(RequestRefusedError, match="params.threshold"):
        submit_files(_RefusingApi(), files, tmp_path / "out", params={"threshold": 5}, console=Console(quiet=True))


class _KeyRefusingApi(_RecordingApi):
    def create_job(self, filename: str, size_bytes: int, **request: object) -> dict:
        from anemonefish_services.client.api import ApiError

        super().create_job(filename, size_bytes, **request)
        raise ApiError(403, "forbidden", "invalid API key")


def test_a_refused_key_stops_the_batch_as_an_option_error(tmp_path: Path) -> None:
    """Each file was hashed and refused in turn, and the refusal shown as a row of the calls table."""
    from rich.console import Console

    from anemonefish_services.client.submit import RequestRefusedError, submit_files

    files = [write_tone_wav(tmp_path / f"reef{i}.wav", 1.0) for i in range(6)]
    api = _KeyRefusingApi()
    with pytest.raises(RequestRefusedError, match="invalid API key"):
        submit_files(api, files, tmp_path / "out", console=Console(quiet=True))
    assert len(api.created) < len(files)  # the rest were never asked for


@pytest.mark.parametrize(("extra", "message"), [
    (["--params", "[1, 2]"], "error: --params must be a JSON object"),
    (["--params", "0"], "error: --params must be a JSON object"),
    (["-o", "FILE"], "exists and is not a folder"),
    (["--api", "127.0.0.1:8080"], "error: --api (or ANEMONEFISH_API_URL): '127.0.0.1:8080' is not an http:// or https:// URL"),
])
def test_bad_options_are_refused_with_exit_2_before_the_api_is_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    recording = write_tone_wav(tmp_path / "a.wav", 1.0)
    (tmp_path / "afile").write_text("notes")
    extra = [str(tmp_path / "afile") if word == "FILE" else word for word in extra]
    args = ["submit", str(recording), "--api", "http://127.0.0.1:9", "--api-key", "k", "-o", str(tmp_path / "out"), *extra]
    assert main(args) == 2  # port 9 has no API: reaching it would have been exit 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


class _SucceedingApi(_RecordingApi):
    def get_job(self, job_id: str) -> dict:
        return {"job_id": job_id, "status": "SUCCEEDED", "filename": f"{job_id}.wav",
                "result": {"links": {"json": f"https://s3/{job_id}.json"}, "warnings": []}}


def test_a_result_that_cannot_be_saved_fails_its_file_alone_and_says_how_to_fetch_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from anemonefish_services.client import submit

    def download(job: dict, stem: str, outdir: Path) -> dict:
        if stem == "bad":
            raise IsADirectoryError(21, "Is a directory", str(outdir / "bad.events.csv"))
        target = outdir / f"{stem}.events.json"
        target.write_text('{"events": []}')
        return {"json": target}

    monkeypatch.setattr(submit, "download_results", download)
    files = [write_tone_wav(tmp_path / "bad.wav", 1.0), write_tone_wav(tmp_path / "good.wav", 1.0)]
    subs = submit.submit_files(_SucceedingApi(), files, tmp_path / "out", console=Console(quiet=True), poll_interval_s=0)
    by_name = {sub.path.name: sub for sub in subs}
    assert by_name["good.wav"].status == "SUCCEEDED" and (tmp_path / "out" / "good.events.json").exists()
    bad = by_name["bad.wav"]
    assert bad.status == "DOWNLOAD_FAILED" and f"anemonefish jobs fetch {bad.job_id}" in (bad.error or "")


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """`anemonefish model info | head -1`: no BrokenPipeError traceback, the shell's 141."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import sys; from anemonefish_services.cli import main; "
                              "sys.exit(main(['model', 'info']))"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # the reader is gone before the first line is written
    _, err = child.communicate(timeout=60)
    assert child.returncode == 141 and b"Traceback" not in err, err.decode()


def test_job_ids_are_one_path_segment_and_never_empty() -> None:
    from anemonefish_services.client.api import ApiClient, ApiError

    asked: list[str] = []

    class _Session:
        def request(self, method, url, **kwargs):  # noqa: ANN001, ANN003
            asked.append(url)
            raise ConnectionError("not sent")

    client = ApiClient("http://api", "k")
    client.session = _Session()  # type: ignore[assignment]
    with pytest.raises(ApiError, match="the job id is empty"):
        client.get_job(" ")
    with pytest.raises(ConnectionError):
        client.get_job("../jobs")
    assert asked == ["http://api/jobs/..%2Fjobs"]


class _ForgettingApi(_RecordingApi):
    """A local stack restarted empty: the job it created is gone."""

    def get_job(self, job_id: str) -> dict:
        from anemonefish_services.client.api import ApiError

        raise ApiError(404, "job_not_found", f"no job {job_id}")


def test_a_job_the_api_no_longer_knows_ends_the_wait_instead_of_polling_for_an_hour(tmp_path: Path) -> None:
    from rich.console import Console

    from anemonefish_services.client.submit import submit_files

    [sub] = submit_files(_ForgettingApi(), [write_tone_wav(tmp_path / "a.wav", 1.0)], tmp_path / "out",
                         console=Console(quiet=True), poll_interval_s=0, timeout_s=5)
    assert sub.status == "LOST" and "job_not_found" in (sub.error or "")


def test_a_folder_or_a_missing_file_is_refused_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    args = ["submit", str(folder), str(tmp_path / "gone.wav"), "--api", "http://127.0.0.1:9", "--api-key", "k",
            "-o", str(tmp_path / "out")]
    assert main(args) == 2  # before any upload (port 9 would have failed with 1)
    err = capsys.readouterr().err
    assert f"error: a folder, not a file: {folder} (submit takes files: name its recordings, e.g. {folder}/*.wav)" in err
    assert f"error: not a file: {tmp_path / 'gone.wav'}" in err


def test_a_local_name_the_api_would_refuse_goes_as_a_name_it_takes(tmp_path: Path) -> None:
    """detect takes 'reef\tnight.wav' and a Latin-1 name; the API refuses control characters,
    and JSON cannot carry the Latin-1 byte: submit sent them as they were and got 400s."""
    import os

    from rich.console import Console

    from anemonefish_services.client.submit import submit_files

    tabbed = write_tone_wav(tmp_path / "reef\tnight.wav", 1.0)
    latin = write_tone_wav(tmp_path / "latin.wav", 1.0).rename(tmp_path / os.fsdecode(b"lat\xe9.wav"))
    turned = write_tone_wav(tmp_path / "reef\u202ev.wav", 1.0)  # a right-to-left override
    api = _RecordingApi()
    submit_files(api, [tabbed, latin, turned], tmp_path / "out", console=Console(quiet=True), poll_interval_s=0)
    assert sorted(job["filename"] for job in api.created) == ["lat\ufffd.wav", "reef night.wav", "reef v.wav"]


def test_a_rerun_replaces_its_own_results_whatever_the_api_made_of_the_name(tmp_path: Path) -> None:
    """The API strips a name's spaces and submit sends control characters as spaces: the earlier
    document then names ' lead.wav' as 'lead.wav', and a rerun refused its own results."""
    from anemonefish_services.cli.pipeline import replacement_refusal
    from anemonefish_services.client.submit import job_filename

    for local, as_the_job in ((" lead.wav", "lead.wav"), ("tab\there.wav", "tab here.wav"), ("trail .wav", "trail .wav")):
        path = tmp_path / local
        assert job_filename(path) == as_the_job
        (tmp_path / f"{path.stem}.events.json").write_text(json.dumps({"audio": {"filename": as_the_job}, "events": []}))
        assert replacement_refusal(tmp_path, path.stem, {path.name, job_filename(path)}, overwrite=False) is None, local
        assert replacement_refusal(tmp_path, path.stem, {"other.wav"}, overwrite=False) is not None


def test_fetched_results_are_named_as_the_api_names_downloads() -> None:
    """A Windows path kept whole made a Linux file 'C:\\Users\\me\\reef.events.json'; jobs named '.'
    and '/' both saved as the hidden '.events.json', the second replacing the first."""
    from anemonefish_services.client.jobs import result_stem

    assert result_stem({"filename": "C:\\Users\\me\\reef.wav", "job_id": "j1"}) == "reef"
    assert result_stem({"filename": "site-a/reef 2.flac", "job_id": "j1"}) == "reef 2"
    assert [result_stem({"filename": name, "job_id": f"j{i}"}) for i, name in enumerate((".", "/", ".."))] == ["j0", "j1", "j2"]


def test_an_upload_that_fails_because_its_job_was_cancelled_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job cancelled elsewhere while its parts went up ended in 'upload failed after 5 attempts:
    S3 answered 500' (moto; NoSuchUpload on AWS), which said nothing of the cancel."""
    from rich.console import Console

    from anemonefish_services.client import upload
    from anemonefish_services.client.submit import submit_files

    monkeypatch.setattr(upload.time, "sleep", lambda s: None)
    recording = write_tone_wav(tmp_path / "reef.wav", 1.0)

    class _CancelledWhileUploading(_RecordingApi):
        status = "CANCELLED"

        def create_job(self, filename: str, size_bytes: int, **request: object) -> dict:
            super().create_job(filename, size_bytes, **request)
            return {"job_id": "job-1", "status": "AWAITING_UPLOAD",  # port 9: every PUT fails
                    "upload": {"method": "PUT", "url": "http://127.0.0.1:9/up", "headers": {}}}

        def get_job(self, job_id: str) -> dict:
            return {"job_id": job_id, "status": self.status, "error": None}

    api = _CancelledWhileUploading()
    [sub] = submit_files(api, [recording], tmp_path / "out", console=Console(quiet=True), poll_interval_s=0)
    assert sub.status == "UPLOAD_FAILED"
    assert sub.error.startswith("the job was CANCELLED while its file was uploading (upload failed after 5 attempts")
    api.status = "AWAITING_UPLOAD"  # not ended: the upload's own error, as it was
    [sub] = submit_files(api, [recording], tmp_path / "out", console=Console(quiet=True), poll_interval_s=0)
    assert sub.error.startswith("upload failed after 5 attempts")


def test_an_api_that_stops_answering_while_jobs_run_ends_the_wait_saying_how_to_fetch_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local stack stopped while submit waited left it polling, silent when piped, for its hour."""
    import requests
    from rich.console import Console

    from anemonefish_services.client import submit
    from anemonefish_services.client.submit import submit_files

    monkeypatch.setattr(submit, "UNREACHABLE_GIVE_UP_S", 0.2)
    recording = write_tone_wav(tmp_path / "reef.wav", 1.0)

    class _GoneAway(_RecordingApi):
        api_url = "http://127.0.0.1:9"

        def __init__(self, answers: int) -> None:
            super().__init__()
            self.answers = answers  # polls answered (RUNNING) before it goes away

        def get_job(self, job_id: str) -> dict:
            if self.answers > 0:
                self.answers -= 1
                return {"job_id": job_id, "status": "RUNNING"}
            raise requests.ConnectionError("connection refused")

    api = _GoneAway(answers=3)
    (sub,) = submit_files(api, [recording], tmp_path / "out", console=Console(quiet=True), poll_interval_s=0.01)
    assert sub.status == "UNREACHABLE" and api.answers == 0
    assert f"`anemonefish jobs fetch {sub.job_id} -o {tmp_path / 'out'} --wait` saves its results" in sub.error
    # So does one that hangs (a suspended stack: each poll times out) or keeps failing (5xx).
    from anemonefish_services.client.api import ApiError

    for failure, said in ((requests.ReadTimeout("read timed out"), "could not be reached (ReadTimeout)"),
                          (ApiError(503, "unavailable", "try later"), "answered 503")):
        class _Failing(_GoneAway):
            def get_job(self, job_id: str, failure: Exception = failure) -> dict:
                raise failure

        (sub,) = submit_files(_Failing(answers=0), [recording], tmp_path / "out", console=Console(quiet=True),
                              poll_interval_s=0.01)
        assert sub.status == "UNREACHABLE" and said in sub.error
    # A blip shorter than that is only a poll error: the wait goes on (to its own timeout here).
    monkeypatch.setattr(submit, "UNREACHABLE_GIVE_UP_S", 60.0)
    (sub,) = submit_files(_GoneAway(answers=0), [recording], tmp_path / "out", console=Console(quiet=True),
                          poll_interval_s=0.01, timeout_s=0.3)
    assert sub.error == "timed out waiting for the job"


def test_a_recording_whose_result_names_would_be_too_long_is_refused_before_its_upload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A legal 245-byte name plus '.Table.1.selections.txt' passes 255 bytes: submit uploaded and
    ran the job, then could not save it; once -o existed every later submit (and detect) died
    with a traceback (ENAMETOOLONG from Path.exists), the short-named files with it."""
    from anemonefish_services.client.jobs import result_stem

    long_name = "é" * 120 + ".wav"  # 244 bytes
    recording = write_tone_wav(tmp_path / "short.wav", 1.0)
    (tmp_path / long_name).write_bytes(recording.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    args = ["--api", "http://127.0.0.1:9", "--api-key", "k", "-o", str(out)]
    assert main(["submit", str(tmp_path / long_name), str(recording), *args]) == 2  # port 9 would have been 1
    err = capsys.readouterr().err
    assert f"error: {tmp_path / long_name}: its results' file name" in err and "give the recording" in err
    assert result_stem({"filename": long_name, "job_id": "j1"}) == "j1"  # jobs fetch saves it under its id
    # Nor may a name fit only without the staging name's additions ('.NAME.<32 hex>.part').
    assert result_stem({"filename": "r" * 200 + ".wav", "job_id": "j1"}) == "j1"
    assert result_stem({"filename": "r" * 190 + ".wav", "job_id": "j1"}) == "r" * 190
    assert result_stem({"filename": "reef.wav", "job_id": "j1"}) == "reef"
    # detect analyses the others and fails that one alone.
    assert main(["detect", str(tmp_path / long_name), str(recording), "-q", "-o", str(out), "--format", "json,raven"]) == 1
    err = capsys.readouterr().err
    assert f"error: {tmp_path / long_name}: its results' file name" in err and "Traceback" not in err
    assert (out / "short.events.json").exists()



class _LateEventApi(_RecordingApi):
    """S3's event not processed yet at the first poll: the job still awaits its upload."""

    polls = 0

    def get_job(self, job_id: str) -> dict:
        self.polls += 1
        if self.polls == 1:
            return {"job_id": job_id, "status": "AWAITING_UPLOAD"}
        return super().get_job(job_id)


def test_a_job_waiting_for_s3_s_event_after_its_upload_does_not_read_as_an_upload_lost(tmp_path: Path, monkeypatch) -> None:
    """The bar went upload -> queued -> awaiting_upload: a newcomer took the upload for lost."""
    from rich.console import Console
    from rich.progress import Progress

    from anemonefish_services.client.submit import submit_files

    stages: list[str] = []
    update = Progress.update

    def recording_update(self, task_id, **fields):  # noqa: ANN001, ANN003, ANN202
        if "stage" in fields:
            stages.append(fields["stage"])
        return update(self, task_id, **fields)

    monkeypatch.setattr(Progress, "update", recording_update)
    submit_files(_LateEventApi(), [write_tone_wav(tmp_path / "reef.wav", 1.0)], tmp_path / "out",
                 console=Console(quiet=True), poll_interval_s=0.01)
    assert "uploaded, waiting for S3" in stages and "awaiting_upload" not in stages
