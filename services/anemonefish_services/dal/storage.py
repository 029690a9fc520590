"""S3 operations of the pipeline: presigned uploads, multipart bookkeeping, result documents."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

from anemonefish.formats import FORMATS, document_name
from botocore.exceptions import ClientError

from anemonefish_services import aws
from anemonefish_services.exceptions import ResultsNotDeletedError
from anemonefish_services.settings import Settings

UPLOAD_PREFIX = "uploads/"
RESULT_PREFIX = "results/"


SAFE_NAME_MAX = 120
# Kept from a long name's end when it is cut: its suffixes (``.Table.1.selections.txt``, the
# longest document's, is 23). Cut at its end, every document of a long-named recording got
# one download name, without a suffix.
SAFE_NAME_TAIL = 40


def safe_filename(filename: str) -> str:
    """A key-safe version of the user's filename (ASCII letters, digits, ``._-``). The job id
    decides the path; this only keeps the name recognisable. A long one loses its middle."""
    name = unicodedata.normalize("NFKD", filename.replace("\\", "/").rsplit("/", 1)[-1])
    name = name.encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "recording"
    if len(name) > SAFE_NAME_MAX:
        name = name[: SAFE_NAME_MAX - SAFE_NAME_TAIL] + name[-SAFE_NAME_TAIL:]
    return name


def upload_key(job_id: str, filename: str) -> str:
    return f"{UPLOAD_PREFIX}{job_id}/{safe_filename(filename)}"


def job_id_from_key(key: str) -> str | None:
    """The job id of an upload key (``uploads/{job_id}/...``), or None for anything else."""
    if not key.startswith(UPLOAD_PREFIX):
        return None
    parts = key[len(UPLOAD_PREFIX) :].split("/", 1)
    return parts[0] if len(parts) == 2 and parts[0] else None


def result_key(job_id: str, fmt: str) -> str:
    """``results/{job_id}/events.json`` (the contract's name), ``events.csv``,
    ``events.Table.1.selections.txt``, ``events.labels.txt``, ``events.scores.csv``."""
    return f"{RESULT_PREFIX}{job_id}/{document_name('events', fmt).replace('events.events.', 'events.')}"


def job_result_keys(job_id: str) -> list[str]:
    """Every document a job can have (the worker writes each of them)."""
    return [result_key(job_id, fmt) for fmt in FORMATS]


class Storage:
    def __init__(self, settings: Settings, s3: Any | None = None) -> None:
        self.settings = settings
        self.s3 = s3 or aws.client("s3", settings)

    # --- uploads ------------------------------------------------------------------------

    # The URLs sign the body's length (S3 refuses another with SignatureDoesNotMatch): signed over
    # the host alone, a job declared at 100 bytes took up to 5 GiB a PUT, as often as the URL
    # lived, each kept as a version of the versioned bucket. Browsers and requests send the
    # header themselves, so it is not one of the headers the client is told to send.
    def presign_put(self, key: str, content_type: str | None, size_bytes: int) -> tuple[str, dict[str, str]]:
        params: dict[str, Any] = {"Bucket": self.settings.input_bucket, "Key": key, "ContentLength": size_bytes}
        headers: dict[str, str] = {}
        if content_type:
            params["ContentType"] = content_type
            headers["Content-Type"] = content_type
        url = self.s3.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=self.settings.presign_expires_s
        )
        return url, headers

    def create_multipart(self, key: str, content_type: str | None) -> str:
        kwargs: dict[str, Any] = {"Bucket": self.settings.input_bucket, "Key": key}
        if content_type:
            kwargs["ContentType"] = content_type
        return self.s3.create_multipart_upload(**kwargs)["UploadId"]

    def presign_part(self, key: str, upload_id: str, part_number: int, size_bytes: int) -> str:
        return self.s3.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.settings.input_bucket,
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": part_number,
                "ContentLength": size_bytes,
            },
            ExpiresIn=self.settings.presign_expires_s,
        )

    def list_parts(self, key: str, upload_id: str) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"Bucket": self.settings.input_bucket, "Key": key, "UploadId": upload_id}
        while True:
            page = self.s3.list_parts(**kwargs)
            parts.extend(page.get("Parts", []))
            if not page.get("IsTruncated"):
                return parts
            kwargs["PartNumberMarker"] = page["NextPartNumberMarker"]

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        self.s3.complete_multipart_upload(
            Bucket=self.settings.input_bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in sorted(parts)]},
        )

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self.s3.abort_multipart_upload(Bucket=self.settings.input_bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise

    def head_input(self, key: str) -> dict[str, Any] | None:
        try:
            return self.s3.head_object(Bucket=self.settings.input_bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def delete_input(self, key: str) -> None:
        """Delete an upload (a missing one is no error: S3 answers 204 either way)."""
        self.s3.delete_object(Bucket=self.settings.input_bucket, Key=key)

    # --- results --------------------------------------------------------------------------

    def put_result(self, key: str, body: str, content_type: str) -> None:
        self.s3.put_object(
            Bucket=self.settings.output_bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type
        )

    def delete_results(self, keys: list[str]) -> None:
        """Remove result documents (a job cancelled while they were being written has none)."""
        if not keys:
            return
        answer = self.s3.delete_objects(Bucket=self.settings.output_bucket,
                                        Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True})
        # S3 answers 200 and lists the keys it could not delete (AccessDenied, SlowDown).
        if errors := answer.get("Errors"):
            raise ResultsNotDeletedError(
                "could not delete " + ", ".join(f"{e.get('Key')} ({e.get('Code')})" for e in errors))

    def presign_get(self, key: str, *, download_name: str | None = None) -> str:
        """A GET link; ``download_name`` is the name browsers save it under: whole in UTF-8
        (RFC 6266's ``filename*``, which browsers prefer), ASCII for the others. Reduced to ASCII
        only, two sites' ``珊瑚礁_北側_2024-03-01`` and ``산호초_남쪽_2024-03-01`` both saved as
        ``2024-03-01.*``."""
        params: dict[str, Any] = {"Bucket": self.settings.output_bucket, "Key": key}
        if download_name:
            params["ResponseContentDisposition"] = (
                f'attachment; filename="{safe_filename(download_name)}"; '
                f"filename*=UTF-8''{quote(download_name, safe='')}")
        return self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=self.settings.presign_expires_s)
