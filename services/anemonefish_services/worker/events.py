"""Parse the S3 notifications that arrive in SQS message bodies, robustly.

- ``s3:TestEvent`` (sent when the notification is configured) has no ``Records``: nothing to do.
- Keys are URL-encoded (``+`` for space, moto also encodes ``/`` as ``%2F``): ``unquote_plus``.
- One message may repeat a record, and a multipart completion can raise two events: records
  are de-duplicated here, and the job's conditional state machine makes the rest harmless.
- An S3 -> SNS -> SQS fan-out wraps the notification in an SNS envelope: unwrapped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str
    size: int | None
    event_name: str


class MalformedMessageError(ValueError):
    """The body is not an S3 notification at all (retrying cannot help)."""


def parse_s3_notification(body: str) -> list[ObjectCreated]:
    try:
        message: Any = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedMessageError(f"message body is not JSON: {exc}") from exc
    if isinstance(message, dict) and message.get("Type") == "Notification" and isinstance(message.get("Message"), str):
        return parse_s3_notification(message["Message"])
    if not isinstance(message, dict):
        raise MalformedMessageError("message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if records is None:
        raise MalformedMessageError("message has no Records and is not an s3:TestEvent")
    found: dict[tuple[str, str], ObjectCreated] = {}
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict):
            continue
        name = str(record.get("eventName", ""))
        if record.get("eventSource") not in (None, "aws:s3") or not name.startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        obj = s3.get("object") or {}
        raw_key = obj.get("key")
        if not bucket or not raw_key:
            continue
        key = unquote_plus(str(raw_key))
        size = obj.get("size")
        found.setdefault((bucket, key), ObjectCreated(bucket, key, int(size) if size is not None else None, name))
    return list(found.values())
