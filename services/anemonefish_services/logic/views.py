"""The job as a client sees it (``GET /jobs/{id}``), with presigned links to the results."""

from __future__ import annotations

from anemonefish.formats import document_name, document_stem

from anemonefish_services.dal.storage import Storage
from anemonefish_services.models.api import ErrorView, JobView, Progress, ResultView
from anemonefish_services.models.job import JobRecord, JobStatus


def job_view(job: JobRecord, storage: Storage | None) -> JobView:
    result = None
    if job.status is JobStatus.SUCCEEDED and job.result is not None:
        # Saved under the recording's own name, as the CLI saves them (Storage.presign_get).
        stem = document_stem(job.filename) or job.job_id
        links = {}
        if storage is not None:  # lists leave links out: presigning every page item is wasted work
            links = {
                fmt: storage.presign_get(key, download_name=document_name(stem, fmt))
                for fmt, key in job.result.documents.items()
            }
        result = ResultView(
            events_count=job.result.events_count,
            audio_duration_s=job.result.audio_duration_s,
            processing_time_s=job.result.processing_time_s,
            links=links,
            links_expire_in_s=storage.settings.presign_expires_s if links and storage is not None else None,
            warnings=job.result.warnings,
        )
    progress = None
    if job.progress is not None and job.status in (JobStatus.RUNNING, JobStatus.SUCCEEDED):
        progress = Progress(fraction=job.progress)
    return JobView(
        job_id=job.job_id,
        status=job.status,
        filename=job.filename,
        size_bytes=job.size_bytes,
        sha256=job.sha256,
        created_at=job.created_at,
        updated_at=job.updated_at,
        params=job.params,
        progress=progress,
        result=result,
        error=ErrorView(**job.error.model_dump()) if job.error else None,
    )
