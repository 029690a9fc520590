"""Create the pipeline's AWS resources by name, as the Terraform ``local`` environment does
(docs/architecture.md), on a moto server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from anemonefish_services.dal.jobs import OPEN_INDEX, OPEN_STATUS, TENANT_INDEX
from anemonefish_services.settings import SQS_MAX_RETENTION_S

UPLOAD_PREFIX = "uploads/"


@dataclass(frozen=True)
class ResourceNames:
    env: str = "local"

    @property
    def prefix(self) -> str:
        return f"anemonefish-{self.env}"

    @property
    def input_bucket(self) -> str:
        return f"{self.prefix}-input"

    @property
    def output_bucket(self) -> str:
        return f"{self.prefix}-output"

    @property
    def jobs_table(self) -> str:
        return f"{self.prefix}-jobs"

    @property
    def jobs_queue(self) -> str:
        return f"{self.prefix}-jobs"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}-jobs-dlq"

    @property
    def topic(self) -> str:
        return f"{self.prefix}-job-events"

    @property
    def webhooks_queue(self) -> str:
        return f"{self.prefix}-webhooks"

    @property
    def webhooks_dlq(self) -> str:
        return f"{self.prefix}-webhooks-dlq"


@dataclass(frozen=True)
class QueueSettings:
    # AWS: visibility = 6 x the worker's 15 min timeout. Locally jobs take seconds; a short
    # timeout makes retries (and lease takeovers) observable in tests and demos.
    visibility_timeout_s: int = 60
    max_receive_count: int = 3
    # The webhooks queue: a delivery takes at most 30 s (logic/notify.QUEUED_WEBHOOK_POLICY).
    webhooks_visibility_timeout_s: int = 45
    webhooks_max_receive_count: int = 5


# As infra/modules/storage sets them: the browser PUTs uploads (single and parts) and GETs results.
def _cors_rules(methods: list[str], expose: list[str]) -> list[dict[str, object]]:
    return [{"AllowedOrigins": ["*"], "AllowedMethods": methods, "AllowedHeaders": ["*"], "ExposeHeaders": expose,
             "MaxAgeSeconds": 3000}]


# Browsers must read each part's ETag to complete a multipart upload.
INPUT_CORS_RULES = _cors_rules(["PUT"], ["ETag"])
OUTPUT_CORS_RULES = _cors_rules(["GET", "HEAD"], ["ETag", "Content-Length", "Content-Type"])


def create_resources(
    endpoint_url: str,
    *,
    names: ResourceNames = ResourceNames(),
    region: str = "us-east-1",
    queue: QueueSettings = QueueSettings(),
) -> dict[str, str]:
    """Create buckets (CORS, S3->SQS notification), table (GSI, TTL), queues (DLQ redrive) and
    topic. Idempotent. Returns the ``ANEMONEFISH_*`` environment pointing at them."""
    session = boto3.session.Session(region_name=region)
    kwargs: dict[str, Any] = {"endpoint_url": endpoint_url, "region_name": region}
    s3 = session.client("s3", **kwargs)
    sqs = session.client("sqs", **kwargs)
    ddb = session.client("dynamodb", **kwargs)
    sns = session.client("sns", **kwargs)

    dlq_url = sqs.create_queue(QueueName=names.dlq, Attributes={"MessageRetentionPeriod": str(SQS_MAX_RETENTION_S)})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=names.jobs_queue,
        Attributes={
            "VisibilityTimeout": str(queue.visibility_timeout_s),
            "MessageRetentionPeriod": str(SQS_MAX_RETENTION_S),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queue.max_receive_count)}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    webhooks_dlq_url = sqs.create_queue(
        QueueName=names.webhooks_dlq, Attributes={"MessageRetentionPeriod": str(SQS_MAX_RETENTION_S)})["QueueUrl"]
    webhooks_dlq_arn = sqs.get_queue_attributes(
        QueueUrl=webhooks_dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    webhooks_queue_url = sqs.create_queue(
        QueueName=names.webhooks_queue,
        Attributes={
            "VisibilityTimeout": str(queue.webhooks_visibility_timeout_s),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": webhooks_dlq_arn,
                                         "maxReceiveCount": str(queue.webhooks_max_receive_count)}),
        },
    )["QueueUrl"]

    for bucket, cors in ((names.input_bucket, INPUT_CORS_RULES), (names.output_bucket, OUTPUT_CORS_RULES)):
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": cors})
    s3.put_bucket_notification_configuration(
        Bucket=names.input_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOAD_PREFIX}]}},
                }
            ]
        },
    )

    try:
        ddb.create_table(
            TableName=names.jobs_table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "job_id", "AttributeType": "S"},
                {"AttributeName": "tenant_id", "AttributeType": "S"},
                {"AttributeName": "created_at", "AttributeType": "S"},
                {"AttributeName": OPEN_STATUS, "AttributeType": "S"},
                {"AttributeName": "updated_at", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": TENANT_INDEX,
                    "KeySchema": [
                        {"AttributeName": "tenant_id", "KeyType": "HASH"},
                        {"AttributeName": "created_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    "IndexName": OPEN_INDEX,
                    "KeySchema": [
                        {"AttributeName": OPEN_STATUS, "KeyType": "HASH"},
                        {"AttributeName": "updated_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
        )
        ddb.update_time_to_live(
            TableName=names.jobs_table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at_epoch"},
        )
    except ddb.exceptions.ResourceInUseException:
        pass

    topic_arn = sns.create_topic(Name=names.topic)["TopicArn"]
    return {
        "ANEMONEFISH_ENV": names.env,
        "ANEMONEFISH_INPUT_BUCKET": names.input_bucket,
        "ANEMONEFISH_OUTPUT_BUCKET": names.output_bucket,
        "ANEMONEFISH_JOBS_TABLE": names.jobs_table,
        "ANEMONEFISH_JOBS_QUEUE_URL": queue_url,
        "ANEMONEFISH_DLQ_URL": dlq_url,
        "ANEMONEFISH_TOPIC_ARN": topic_arn,
        "ANEMONEFISH_WEBHOOKS_QUEUE_URL": webhooks_queue_url,
        "ANEMONEFISH_AWS_ENDPOINT_URL": endpoint_url,
    }
