"""`terraform apply` of the local environment against a real moto server over HTTP, then the
resources are checked with boto3, an upload raises the job event, and a job runs end to end
through the resources Terraform created (the application reads only Terraform's outputs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import soundfile as sf
from infra_helpers import REPO, run, terraform_bin, tool_env

from anemonefish_services.dal.jobs import OPEN_INDEX, OPEN_STATUS, TENANT_INDEX

pytestmark = pytest.mark.infra

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
NAMES = {  # docs/architecture.md, local environment
    "input_bucket": "anemonefish-local-input",
    "output_bucket": "anemonefish-local-output",
    "jobs_table": "anemonefish-local-jobs",
    "jobs_queue": "anemonefish-local-jobs",
    "dlq": "anemonefish-local-jobs-dlq",
    "topic": "anemonefish-local-job-events",
}


@dataclass
class LocalEnvironment:
    endpoint_url: str
    outputs: dict[str, Any]
    state: Path

    def client(self, service: str) -> Any:
        from botocore.config import Config

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(signature_version="s3v4"))

    @property
    def app_environment(self) -> dict[str, str]:
        return dict(self.outputs["app_environment"]["value"])


@pytest.fixture(scope="module")
def local_env(initialized: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnvironment]:
    from anemonefish_services.local.moto_server import MotoServer

    # MotoServer empties moto's process-wide backends on start and stop.
    server = MotoServer().start()
    try:
        endpoint = server.endpoint_url
        env_dir = initialized("local")
        state = tmp_path_factory.mktemp("local-apply") / "terraform.tfstate"
        common = ["-input=false", "-no-color", "-lock=false", f"-state={state}"]
        run([terraform_bin(), "apply", "-auto-approve", *common, f"-var=aws_endpoint_url={endpoint}"],
            cwd=env_dir, timeout=900)
        shown = run([terraform_bin(), "output", "-json", "-no-color", f"-state={state}"], cwd=env_dir)
        yield LocalEnvironment(endpoint, json.loads(shown.stdout), state)
    finally:
        server.stop()


def test_outputs_name_the_architecture_resources(local_env: LocalEnvironment) -> None:
    env = local_env.app_environment
    queue_base = f"{local_env.endpoint_url}/{ACCOUNT}"
    assert env == {
        "ANEMONEFISH_ENV": "local",
        "ANEMONEFISH_AWS_ENDPOINT_URL": local_env.endpoint_url,
        "ANEMONEFISH_INPUT_BUCKET": NAMES["input_bucket"],
        "ANEMONEFISH_OUTPUT_BUCKET": NAMES["output_bucket"],
        "ANEMONEFISH_JOBS_TABLE": NAMES["jobs_table"],
        "ANEMONEFISH_JOBS_QUEUE_URL": f"{queue_base}/{NAMES['jobs_queue']}",
        "ANEMONEFISH_DLQ_URL": f"{queue_base}/{NAMES['dlq']}",
        "ANEMONEFISH_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{NAMES['topic']}",
        "ANEMONEFISH_WEBHOOKS_QUEUE_URL": f"{queue_base}/anemonefish-local-webhooks",
        "ANEMONEFISH_CORS_ORIGINS": "*",
        "AWS_REGION": REGION,
        "ANEMONEFISH_JOBS_QUEUE_RETENTION_S": "1209600",
    }


def test_buckets_are_encrypted_private_versioned_and_expire(local_env: LocalEnvironment) -> None:
    """(The TLS-only policy is left out locally: moto speaks HTTP and enforces bucket policies.)"""
    s3 = local_env.client("s3")
    for bucket in (NAMES["input_bucket"], NAMES["output_bucket"]):
        (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].startswith(f"arn:aws:kms:{REGION}:")
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
        assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1
        (cors,) = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        assert "ETag" in cors["ExposeHeaders"]
    input_rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=NAMES["input_bucket"])["Rules"]}
    output_rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=NAMES["output_bucket"])["Rules"]}
    assert input_rules["expire-uploads"]["Expiration"]["Days"] < output_rules["expire-results"]["Expiration"]["Days"]
    # The rules cover the keys the code writes (dal/storage.py's layout).
    from anemonefish_services.dal.storage import result_key, upload_key

    assert upload_key("j", "a.wav").startswith(input_rules["expire-uploads"]["Filter"]["Prefix"])
    assert result_key("j", "json").startswith(output_rules["expire-results"]["Filter"]["Prefix"])


def test_the_local_stacks_cors_rules_are_terraforms(local_env: LocalEnvironment) -> None:
    """`local up` creates its buckets itself (local/resources.py): a browser must meet the same
    CORS there as in AWS, or the console works locally and fails deployed (or the reverse)."""
    from anemonefish_services.local.resources import INPUT_CORS_RULES, OUTPUT_CORS_RULES

    s3 = local_env.client("s3")
    for bucket, ours in ((NAMES["input_bucket"], INPUT_CORS_RULES), (NAMES["output_bucket"], OUTPUT_CORS_RULES)):
        (theirs,) = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        (rule,) = ours
        for field in ("AllowedMethods", "ExposeHeaders", "AllowedHeaders"):
            assert sorted(theirs[field]) == sorted(rule[field]), (bucket, field)  # type: ignore[arg-type]


def test_queue_table_and_topic_match_what_the_code_expects(local_env: LocalEnvironment) -> None:
    sqs = local_env.client("sqs")
    jobs_url = sqs.get_queue_url(QueueName=NAMES["jobs_queue"])["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=NAMES["dlq"])["QueueUrl"]
    jobs = sqs.get_queue_attributes(QueueUrl=jobs_url, AttributeNames=["All"])["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    assert json.loads(jobs["RedrivePolicy"])["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(jobs["VisibilityTimeout"]) >= 6 * 900
    # The sweeper re-drives a job still QUEUED before SQS drops its last message (logic.stalled).
    assert jobs["MessageRetentionPeriod"] == local_env.app_environment["ANEMONEFISH_JOBS_QUEUE_RETENTION_S"] == "1209600"
    assert jobs["KmsMasterKeyId"] and dlq["KmsMasterKeyId"]
    statement = json.loads(jobs["Policy"])["Statement"][0]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == f"arn:aws:s3:::{NAMES['input_bucket']}"
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT

    ddb = local_env.client("dynamodb")
    table = ddb.describe_table(TableName=NAMES["jobs_table"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # the indexes the services query, by the names and keys the DAL uses
    indexes = {index["IndexName"]: index["KeySchema"] for index in table["GlobalSecondaryIndexes"]}
    assert indexes == {
        TENANT_INDEX: [{"AttributeName": "tenant_id", "KeyType": "HASH"}, {"AttributeName": "created_at", "KeyType": "RANGE"}],
        OPEN_INDEX: [{"AttributeName": OPEN_STATUS, "KeyType": "HASH"}, {"AttributeName": "updated_at", "KeyType": "RANGE"}],
    }
    assert table["SSEDescription"]["Status"] == "ENABLED"
    ttl = ddb.describe_time_to_live(TableName=NAMES["jobs_table"])["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expires_at_epoch", "ENABLED")
    backups = ddb.describe_continuous_backups(TableName=NAMES["jobs_table"])["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"

    sns = local_env.client("sns")
    topic = sns.get_topic_attributes(TopicArn=local_env.app_environment["ANEMONEFISH_TOPIC_ARN"])["Attributes"]
    assert topic["KmsMasterKeyId"]


def _object_keys_in_queue(sqs: Any, queue_url: str, wait_s: float) -> list[str]:
    """Drain the queue for ``wait_s``: object keys of the S3 records received (test events dropped)."""
    keys: list[str] = []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            for record in json.loads(message["Body"]).get("Records", []):  # s3:TestEvent has none
                keys.append(urllib.parse.unquote_plus(record["s3"]["object"]["key"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return keys


def test_an_upload_raises_a_job_event_and_nothing_else_does(local_env: LocalEnvironment) -> None:
    s3, sqs = local_env.client("s3"), local_env.client("sqs")
    queue_url = local_env.app_environment["ANEMONEFISH_JOBS_QUEUE_URL"]
    _object_keys_in_queue(sqs, queue_url, wait_s=1)  # leftovers (the s3:TestEvent of the notification)
    from anemonefish_services.dal.storage import upload_key as key_of

    upload_key = key_of("job-infra-1", "reef recording.wav")  # the key layout the API hands out
    s3.put_object(Bucket=NAMES["input_bucket"], Key="elsewhere/not-a-job.wav", Body=b"x")
    s3.put_object(Bucket=NAMES["output_bucket"], Key="uploads/wrong-bucket.wav", Body=b"x")
    s3.put_object(Bucket=NAMES["input_bucket"], Key=upload_key, Body=b"RIFF")
    assert _object_keys_in_queue(sqs, queue_url, wait_s=3) == [upload_key]


@pytest.mark.slow
def test_a_job_runs_end_to_end_through_the_terraform_resources(local_env: LocalEnvironment, tmp_path: Path) -> None:
    rate = 48000
    rng = np.random.default_rng(7)
    t = np.arange(6 * rate) / rate
    recording = tmp_path / "reef take 1.wav"
    sf.write(recording, (0.05 * rng.standard_normal(t.size) + 0.2 * np.sin(2 * np.pi * 600 * t)).astype(np.float32),
             rate, subtype="PCM_16")
    env = tool_env({**local_env.app_environment, "AWS_DEFAULT_REGION": REGION,
                    "ANEMONEFISH_ENV": "local", "OPENBLAS_NUM_THREADS": "1"})
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("e2e_job.py")), str(recording),
                           str(tmp_path / "results")], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-6000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["status"] == "SUCCEEDED", result
    assert {"json", "csv", "raven", "audacity"} <= set(result["documents"])

    # The result landed in the output bucket Terraform made, under the documented key.
    s3 = local_env.client("s3")
    document = json.loads(s3.get_object(Bucket=NAMES["output_bucket"],
                                        Key=f"results/{result['job_id']}/events.json")["Body"].read())
    assert document["job_id"] == result["job_id"]
    assert document["audio"]["filename"] == recording.name
    assert document["audio"]["duration_s"] == pytest.approx(6.0, abs=0.01)
    # ...and the job's state is in the table Terraform made.
    item = local_env.client("dynamodb").get_item(TableName=NAMES["jobs_table"],
                                                 Key={"job_id": {"S": result["job_id"]}})["Item"]
    assert item["status"]["S"] == "SUCCEEDED"
