"""Parsing S3 notifications out of SQS bodies (worker.events)."""

from __future__ import annotations

import json

import pytest

from anemonefish_services.worker.events import MalformedMessageError, parse_s3_notification


def _record(key: str, name: str = "ObjectCreated:Put", bucket: str = "in", size: int = 5) -> dict:
    return {"eventSource": "aws:s3", "eventName": name, "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": size}}}


def test_test_event_has_nothing_to_do():
    assert parse_s3_notification(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "in"})) == []


def test_keys_are_url_decoded_plus_is_space_and_moto_slashes():
    body = json.dumps({"Records": [_record("uploads%2Fjob-1%2Fr%C3%A9cif+du+matin.wav")]})
    [created] = parse_s3_notification(body)
    assert created.key == "uploads/job-1/récif du matin.wav"
    assert created.bucket == "in" and created.size == 5


def test_duplicate_records_in_one_message_are_collapsed_and_other_events_skipped():
    body = json.dumps({"Records": [
        _record("uploads/j/a.wav", "ObjectCreated:CompleteMultipartUpload"),
        _record("uploads/j/a.wav", "ObjectCreated:Put"),
        _record("uploads/j/b.wav", "ObjectRemoved:Delete"),
    ]})
    found = parse_s3_notification(body)
    assert [(f.key, f.event_name) for f in found] == [("uploads/j/a.wav", "ObjectCreated:CompleteMultipartUpload")]


def test_sns_envelope_is_unwrapped():
    inner = json.dumps({"Records": [_record("uploads/j/a.wav")]})
    body = json.dumps({"Type": "Notification", "Message": inner})
    assert parse_s3_notification(body)[0].key == "uploads/j/a.wav"


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"hello": "world"})])
def test_malformed_bodies_are_reported(body):
    with pytest.raises(MalformedMessageError):
        parse_s3_notification(body)
