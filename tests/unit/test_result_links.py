"""The result links of GET /jobs/{id} (logic.views, Storage.presign_get): the names they save under."""

from __future__ import annotations

import time
from types import SimpleNamespace
from urllib.parse import parse_qs, unquote, urlparse

import boto3

from anemonefish.formats import FORMATS, document_name
from anemonefish_services.dal.storage import Storage
from anemonefish_services.logic.views import job_view
from anemonefish_services.models.job import JobRecord, JobResult, JobStatus


def _links(filename: str) -> dict[str, str]:
    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    storage = Storage(SimpleNamespace(output_bucket="out", presign_expires_s=3600), s3=s3)  # presigning is offline
    job = JobRecord(
        job_id="j", tenant_id="t", status=JobStatus.SUCCEEDED, filename=filename, size_bytes=10, input_key="uploads/j/x",
        upload_mode="PUT", created_at="2026-01-01T00:00:00Z", updated_at="2026-01-01T00:00:00Z",
        upload_expires_at=time.time(), expires_at_epoch=0,
        result=JobResult(events_count=0, audio_duration_s=1.0, processing_time_s=0.1,
                         documents={fmt: f"results/j/{fmt}" for fmt in FORMATS}),
    )
    return job_view(job, storage).result.links


def _names(link: str) -> tuple[str, str]:
    """The ASCII filename and the UTF-8 filename* of a link's Content-Disposition."""
    disposition = parse_qs(urlparse(link).query)["response-content-disposition"][0]
    ascii_name = disposition.split('filename="')[1].split('"')[0]
    return ascii_name, unquote(disposition.split("filename*=UTF-8''")[1])


def test_a_long_recording_name_keeps_each_document_s_suffix_in_both_download_names():
    """The ASCII name (what `curl -OJ` saves under) was cut at 120 characters, suffix and all:
    every document of a recording named past about 100 characters saved under one name, and
    curl refused the other four as existing."""
    stem = "AMAR173.4_2019-09-20_reef_crest_north_hydrophone_B_gain_high_sensitive_deployment_three_continuous_recording"
    links = _links(f"{stem}.wav")
    names = {fmt: _names(link) for fmt, link in links.items()}
    assert {fmt: utf8 for fmt, (_, utf8) in names.items()} == {fmt: document_name(stem, fmt) for fmt in FORMATS}
    ascii_names = [ascii_name for ascii_name, _ in names.values()]
    assert len(set(ascii_names)) == len(FORMATS)
    for fmt, (ascii_name, _) in names.items():
        assert ascii_name.endswith(document_name("", fmt)) and len(ascii_name) <= 120
        assert ascii_name.startswith("AMAR173.4_2019-09-20_reef_crest")


def test_a_short_name_downloads_whole():
    ascii_name, utf8 = _names(_links("reef 1.wav")["raven"])
    assert (ascii_name, utf8) == ("reef_1.Table.1.selections.txt", "reef 1.Table.1.selections.txt")
