"""Each Lambda's code, run under the IAM role Terraform gives it, with the emulator enforcing IAM.

moto never checks permissions unless told to, so the other tests would pass with roles that
AWS refuses. Here ``terraform apply`` creates the local resources and, wired by
modules/pipeline's own ``module "functions"`` block, the functions' roles and policies in a
moto server; each function (api, worker, DLQ consumer, sweeper) then
runs in its own process with its role's assumed credentials, and moto's IAM enforcement is
switched on. Jobs go through every path that calls AWS: a single and a multipart upload to
SUCCEEDED, a cancel that aborts a multipart upload, an expiry by the sweeper, a dead letter, and
a lost job given up by the sweeper (both discard its results).

What moto checks (``moto/iam/access_control.py``): every call's action against the role's
policies; the resource only for S3 (bucket/key) and SQS (queue). For DynamoDB, SNS and KMS it
asks about resource "*", which a statement naming ARNs never matches, so those statements are
widened to "*" in the emulator (their actions are still checked). A DeleteObjects call moto
checks against the bucket, where AWS checks each key: a role granted s3:DeleteObject on some of
a bucket's keys is granted it on the bucket too (the grant must exist). moto cannot check presigned
requests (it reads only the Authorization header), so the test uploads with an admin's
credentials where a client would use the API role's presigned URLs; that the API role may
upload is checked directly instead (``test_the_roles_are_enforced_...``).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import requests
import soundfile as sf
from botocore.config import Config
from botocore.exceptions import ClientError
from infra_helpers import ENVIRONMENTS, INFRA, plugin_dir, run, terraform_bin, tool_env

pytestmark = [pytest.mark.infra, pytest.mark.slow]

REGION = "us-east-1"
ACCOUNT = "123456789012"
API_KEY = "iam-roles-key"
MIB = 1024 * 1024
RUN_AS_ROLE = Path(__file__).with_name("run_as_role.py")
RESOURCE_CHECKED_SERVICES = ("s3", "sqs")

# The local environment's names for what modules/pipeline calls otherwise.
PIPELINE_TO_LOCAL = {"var.environment": "local.environment", "local.cors_origins": "var.cors_origins",
                     "var.tags": "local.tags"}
# Values of the pipeline variables the block uses that have no default.
REQUIRED_VALUES = {
    "worker_image_uri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/anemonefish-local-worker:test",
    "api_image_uri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/anemonefish-local-api:test",
    "webhook_secret": "whsec_dGVzdC1vbmx5LW5vdC1hLXNlY3JldC0zMi1ieXRlcyE=",
    "api_key_required": "false",
    "log_retention_days": "1",
    "result_expiration_days": "1",
    "worker_batch_size": "1",
    "worker_maximum_concurrency": "2",
    "worker_reserved_concurrency": "2",
}


def _functions_wiring(local_variables: set[str]) -> tuple[str, list[str]]:
    """modules/pipeline's own ``module "functions"`` block, on the local environment's
    resources (so its wiring is what is checked), with the pipeline variables it reads; and
    the -var arguments for those without a default."""
    pipeline = INFRA / "modules" / "pipeline"
    text = (pipeline / "main.tf").read_text()
    start = text.index('module "functions" {')
    block = text[start:text.index("\n}\n", start) + 3].replace('"../functions"', f'"{INFRA / "modules" / "functions"}"')
    for theirs, ours in PIPELINE_TO_LOCAL.items():
        block = re.sub(rf"\b{re.escape(theirs)}\b", ours, block)
    needed = set(re.findall(r"\bvar\.(\w+)", block)) - local_variables
    declared = {m.group(1): m.group(0) for m in re.finditer(r'variable "(\w+)" \{.*?\n\}', (pipeline / "variables.tf").read_text(), re.S)}
    without_default = sorted(name for name in needed if "default" not in declared[name])
    assert set(without_default) <= set(REQUIRED_VALUES), f"give these a value: {without_default}"
    variables = "\n\n".join(declared[name] for name in sorted(needed))
    output = '\n\noutput "role_arns" {\n  value = module.functions.role_arns\n}\n'
    return block + "\n" + variables + output, [f"-var={name}={REQUIRED_VALUES[name]}" for name in without_default]


TARGETS = ["module.kms", "module.queue", "module.webhook_queue", "module.storage", "module.jobs_table",
           "module.notifications", "module.functions.aws_iam_role_policy.this"]


@dataclass
class RolesEnvironment:
    endpoint_url: str
    app_environment: dict[str, str]
    credentials: dict[str, dict[str, str]]  # function -> AWS_* variables of its assumed role
    admin: dict[str, str]
    logs: Path
    events_queue_url: str  # subscribed to the job-events topic: what the functions published
    published: dict[str, set[str]] = field(default_factory=dict)  # job id -> statuses announced

    def client(self, service: str, function: str | None = None) -> Any:
        creds = self.credentials[function] if function else self.admin
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=creds.get("AWS_SESSION_TOKEN"),
                            config=Config(signature_version="s3v4", retries={"max_attempts": 1}))

    def function_env(self, function: str) -> dict[str, str]:
        return tool_env({
            **self.app_environment, **self.credentials[function],
            "AWS_DEFAULT_REGION": REGION,
            # Small enough for moto: a 6 MiB recording goes up in two parts.
            "ANEMONEFISH_MULTIPART_THRESHOLD_BYTES": str(5 * MIB),
            "ANEMONEFISH_MULTIPART_PART_BYTES": str(5 * MIB),
            "ANEMONEFISH_API_KEYS": json.dumps({API_KEY: "iam-tenant"}),
            # One secret for every function (the local stack would make each its own).
            "ANEMONEFISH_WEBHOOK_SECRET": REQUIRED_VALUES["webhook_secret"],
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        })

    def announced(self, job_id: str, status: str, timeout_s: float = 30.0) -> bool:
        """Whether the topic carried ``status`` for the job (read from the subscribed queue)."""
        sqs = self.client("sqs")
        deadline = time.monotonic() + timeout_s
        while status not in self.published.get(job_id, set()) and time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10,
                                               WaitTimeSeconds=1).get("Messages", []):
                data = json.loads(message["Body"])["data"]
                self.published.setdefault(data["job_id"], set()).add(data["status"])
                sqs.delete_message(QueueUrl=self.events_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return status in self.published.get(job_id, set())

    def log_tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in sorted(self.logs.glob("*.log")))


# moto asks for a call's operation name ("s3:HeadObject"); AWS asks for the IAM action that
# authorizes it (HeadObject needs s3:GetObject; a batch call its single action). Each action
# the roles name, with the operations the services' docs say it authorizes (those the code
# calls); where the names agree (DynamoDB, SNS, the rest of S3 and SQS) nothing is added.
OPERATIONS_AUTHORIZED_BY = {
    "s3:GetObject": ["s3:HeadObject"],
    "s3:PutObject": ["s3:CreateMultipartUpload", "s3:UploadPart", "s3:CompleteMultipartUpload"],
    "s3:ListMultipartUploadParts": ["s3:ListParts"],
    "s3:DeleteObject": ["s3:DeleteObjects"],
    "s3:ListBucket": ["s3:ListObjects", "s3:ListObjectsV2", "s3:HeadBucket"],
    "sqs:DeleteMessage": ["sqs:DeleteMessageBatch"],
    "sqs:SendMessage": ["sqs:SendMessageBatch"],
    "sqs:ChangeMessageVisibility": ["sqs:ChangeMessageVisibilityBatch"],
}


def _as_moto_checks_it(document: dict[str, Any]) -> dict[str, Any]:
    """The policy as moto can check it, allowing exactly what AWS would (see the module doc)."""
    statements = []
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        services = {action.split(":")[0] for action in actions}
        assert len(services) == 1, f"one service per statement keeps this test's widening exact: {statement}"
        if services.isdisjoint(RESOURCE_CHECKED_SERVICES):
            statement = {**statement, "Resource": "*"}
        operations = [op for action in actions for op in OPERATIONS_AUTHORIZED_BY.get(action, [])]
        statements.append({**statement, "Action": actions + operations})
        if "s3:DeleteObject" in actions:
            # AWS authorizes DeleteObjects key by key; moto asks once, for the bucket's ARN.
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            buckets = sorted({resource.split("/", 1)[0] for resource in resources})
            statements.append({"Effect": "Allow", "Action": ["s3:DeleteObject", "s3:DeleteObjects"], "Resource": buckets})
    return {**document, "Statement": statements}


def _setup_client(endpoint: str, service: str) -> Any:
    """A client for setting the emulator up, before enforcement is on (any keys do then)."""
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _subscribe_a_queue(endpoint: str, topic_arn: str) -> str:
    """A queue that receives the job-events topic's messages, as a subscriber's would."""
    sqs = _setup_client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="iam-roles-job-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    _setup_client(endpoint, "sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                                             Attributes={"RawMessageDelivery": "true"})
    return url


def _enforce_roles(endpoint: str, role_arns: dict[str, str]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """An admin user, each role's assumed credentials, then IAM enforcement on."""
    iam = _setup_client(endpoint, "iam")
    for arn in role_arns.values():
        role = arn.rsplit("/", 1)[1]
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
        assert names, f"{role} has no policy"
        for name in names:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            document = json.loads(document) if isinstance(document, str) else document
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(_as_moto_checks_it(document)))
    iam.create_user(UserName="test-admin")
    iam.put_user_policy(UserName="test-admin", PolicyName="everything", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="test-admin")["AccessKey"]
    admin = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    sts = _setup_client(endpoint, "sts")
    credentials = {}
    for function, arn in role_arns.items():
        assumed = sts.assume_role(RoleArn=arn, RoleSessionName=f"{function}-under-test")["Credentials"]
        credentials[function] = {"AWS_ACCESS_KEY_ID": assumed["AccessKeyId"],
                                 "AWS_SECRET_ACCESS_KEY": assumed["SecretAccessKey"],
                                 "AWS_SESSION_TOKEN": assumed["SessionToken"]}
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=30).raise_for_status()
    return admin, credentials


@pytest.fixture(scope="module")
def roles_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RolesEnvironment]:
    from anemonefish_services.local.moto_server import MotoServer

    root = tmp_path_factory.mktemp("iam-roles")
    local = ENVIRONMENTS / "local"
    for tf in [*local.glob("*.tf"), local / ".terraform.lock.hcl"]:
        if tf.exists():
            (root / tf.name).write_text(tf.read_text().replace('"../../modules/', f'"{INFRA / "modules"}/'))
    local_variables = set(re.findall(r'variable "(\w+)"', (local / "variables.tf").read_text()))
    wiring, required = _functions_wiring(local_variables)
    (root / "functions.tf").write_text(wiring)
    init = [terraform_bin(), "init", "-input=false", "-no-color"]
    if (mirror := plugin_dir()) is not None:
        init.append(f"-plugin-dir={mirror}")
    run(init, cwd=root, timeout=900)
    logs = tmp_path_factory.mktemp("iam-roles-logs")
    server = MotoServer(part_min_size=5 * MIB).start()
    try:
        common = ["-input=false", "-no-color", "-lock=false", f"-var=aws_endpoint_url={server.endpoint_url}"]
        run([terraform_bin(), "apply", "-auto-approve", *common, *required, *(f"-target={t}" for t in TARGETS)],
            cwd=root, timeout=900)
        outputs = json.loads(run([terraform_bin(), "output", "-json", "-no-color"], cwd=root).stdout)
        role_arns = outputs["role_arns"]["value"]
        assert set(role_arns) == {"api", "worker", "dlq", "sweeper", "webhooks"}
        app_environment = dict(outputs["app_environment"]["value"])
        events_queue_url = _subscribe_a_queue(server.endpoint_url, app_environment["ANEMONEFISH_TOPIC_ARN"])
        admin, credentials = _enforce_roles(server.endpoint_url, role_arns)
        yield RolesEnvironment(server.endpoint_url, app_environment, credentials, admin, logs, events_queue_url)
    finally:
        requests.post(f"{server.endpoint_url}/moto-api/reset-auth", data=b"inf", timeout=30)
        server.stop()


@pytest.fixture(scope="module")
def api_url(roles_env: RolesEnvironment) -> Iterator[str]:
    """The API, the worker, the DLQ consumer and the webhook sender, each in its own process
    under its own role."""
    processes = []
    url = ""
    try:
        for function in ("api", "worker", "dlq", "webhooks"):
            ready = roles_env.logs / f"{function}.ready"
            with (roles_env.logs / f"{function}.log").open("w") as log:  # the child keeps its own handle
                process = subprocess.Popen([sys.executable, str(RUN_AS_ROLE), "serve", function, str(ready)],
                                           stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True,
                                           env=roles_env.function_env(function))
            processes.append(process)
            deadline = time.monotonic() + 120
            while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert ready.exists(), f"{function} did not start:\n{roles_env.log_tail()}"
            url = json.loads(ready.read_text())["api_url"] or url
        yield url
    finally:
        for process in processes:
            process.stdin.close()  # type: ignore[union-attr]
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _call(api_url: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{api_url}{path}", headers={"x-api-key": API_KEY}, timeout=30, **kwargs)


def _recording(seconds: float) -> bytes:
    rate = 48000
    samples = (0.05 * np.random.default_rng(7).standard_normal(int(seconds * rate))).astype(np.float32)
    out = io.BytesIO()
    sf.write(out, samples, rate, subtype="PCM_16", format="WAV")
    return out.getvalue()


def _input_key(url: str, bucket: str) -> str:
    """The object key a presigned URL (path-style, as against moto) uploads to."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    assert path.startswith(f"/{bucket}/"), url
    return path.removeprefix(f"/{bucket}/")


def _wait_for(api_url: str, job_id: str, roles_env: RolesEnvironment, timeout_s: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = _call(api_url, "GET", f"/jobs/{job_id}").json()
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"):
            return job
        time.sleep(0.5)
    pytest.fail(f"job {job_id} still {job['status']} after {timeout_s} s\n{roles_env.log_tail()}")


def _result_keys(roles_env: RolesEnvironment, job_id: str) -> list[str]:
    listed = roles_env.client("s3").list_objects_v2(Bucket=roles_env.app_environment["ANEMONEFISH_OUTPUT_BUCKET"],
                                                      Prefix=f"results/{job_id}/")
    return sorted(item["Key"].rsplit("/", 1)[1] for item in listed.get("Contents", []))


def test_a_job_uploaded_in_one_put_succeeds_under_the_api_and_worker_roles(
    roles_env: RolesEnvironment, api_url: str
) -> None:
    data = _recording(8.0)
    created = _call(api_url, "POST", "/jobs", json={"filename": "reef.wav", "size_bytes": len(data)})
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["upload"]["method"] == "PUT"
    bucket = roles_env.app_environment["ANEMONEFISH_INPUT_BUCKET"]
    roles_env.client("s3").put_object(Bucket=bucket, Key=_input_key(job["upload"]["url"], bucket), Body=data)
    done = _wait_for(api_url, job["job_id"], roles_env)
    assert done["status"] == "SUCCEEDED", f"{done}\n{roles_env.log_tail()}"
    from anemonefish.formats import FORMATS

    from anemonefish_services.dal.storage import result_key

    assert _result_keys(roles_env, job["job_id"]) == sorted(result_key(job["job_id"], f).rsplit("/", 1)[1] for f in FORMATS)
    assert roles_env.announced(job["job_id"], "SUCCEEDED"), roles_env.log_tail()  # sns:Publish by the worker
    listed = _call(api_url, "GET", "/jobs")  # the listing index, queried by the API role
    assert listed.status_code == 200 and job["job_id"] in [j["job_id"] for j in listed.json()["jobs"]]


def test_a_multipart_upload_is_created_listed_and_completed_under_the_api_role(
    roles_env: RolesEnvironment, api_url: str
) -> None:
    data = _recording(66.0)  # 6.3 MB: two parts of at least 5 MiB's part size
    created = _call(api_url, "POST", "/jobs", json={"filename": "long reef.wav", "size_bytes": len(data)})
    assert created.status_code == 201, created.text
    job = created.json()
    upload = job["upload"]
    assert upload["method"] == "MULTIPART" and upload["part_count"] == 2
    bucket = roles_env.app_environment["ANEMONEFISH_INPUT_BUCKET"]
    key = _input_key(upload["parts"][0]["url"], bucket)
    s3 = roles_env.client("s3")
    etags = []
    for part in upload["parts"]:
        number = part["part_number"]
        body = data[(number - 1) * upload["part_size"]: number * upload["part_size"]]
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["upload_id"], PartNumber=number, Body=body)["ETag"]
        etags.append({"part_number": number, "etag": etag})
    listed = _call(api_url, "GET", f"/jobs/{job['job_id']}/upload/parts")  # ListParts, by the API role
    assert listed.status_code == 200, listed.text
    assert [p["part_number"] for p in listed.json()["parts"]] == [1, 2]
    completed = _call(api_url, "POST", f"/jobs/{job['job_id']}/upload/complete", json={"parts": etags})
    assert completed.status_code == 202, completed.text
    done = _wait_for(api_url, job["job_id"], roles_env)
    assert done["status"] == "SUCCEEDED", f"{done}\n{roles_env.log_tail()}"
    assert done["result"]["audio_duration_s"] == pytest.approx(66.0, abs=0.01)
    assert roles_env.announced(job["job_id"], "SUCCEEDED"), roles_env.log_tail()


def test_a_cancel_aborts_the_open_multipart_upload_under_the_api_role(roles_env: RolesEnvironment, api_url: str) -> None:
    job = _call(api_url, "POST", "/jobs", json={"filename": "never sent.wav", "size_bytes": 7 * MIB}).json()
    assert job["upload"]["method"] == "MULTIPART"
    cancelled = _call(api_url, "DELETE", f"/jobs/{job['job_id']}")
    assert cancelled.status_code in (200, 202), cancelled.text
    assert _call(api_url, "GET", f"/jobs/{job['job_id']}").json()["status"] == "CANCELLED"
    assert roles_env.announced(job["job_id"], "CANCELLED"), roles_env.log_tail()  # sns:Publish by the API
    open_uploads = roles_env.client("s3").list_multipart_uploads(Bucket=roles_env.app_environment["ANEMONEFISH_INPUT_BUCKET"])
    assert job["upload"]["upload_id"] not in [u["UploadId"] for u in open_uploads.get("Uploads", [])]


def test_the_sweeper_role_expires_uploads_that_never_came(roles_env: RolesEnvironment, api_url: str) -> None:
    single = _call(api_url, "POST", "/jobs", json={"filename": "late.wav", "size_bytes": 1000}).json()
    multipart = _call(api_url, "POST", "/jobs", json={"filename": "late long.wav", "size_bytes": 7 * MIB}).json()
    two_days = str(2 * 86400)
    proc = subprocess.run([sys.executable, str(RUN_AS_ROLE), "sweep", two_days], capture_output=True, text=True,
                          env=roles_env.function_env("sweeper"), timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    swept = json.loads(proc.stdout.strip().splitlines()[-1])
    assert '"level":"ERROR"' not in proc.stdout, proc.stdout[-4000:]  # e.g. a denied publish, logged not raised
    assert {single["job_id"], multipart["job_id"]} <= set(swept["expired"]), proc.stderr[-4000:]
    for job in (single, multipart):
        assert _call(api_url, "GET", f"/jobs/{job['job_id']}").json()["status"] == "EXPIRED"
        assert roles_env.announced(job["job_id"], "EXPIRED"), proc.stdout[-4000:]  # sns:Publish by the sweeper
    open_uploads = roles_env.client("s3").list_multipart_uploads(Bucket=roles_env.app_environment["ANEMONEFISH_INPUT_BUCKET"])
    assert multipart["upload"]["upload_id"] not in [u["UploadId"] for u in open_uploads.get("Uploads", [])]


def test_the_dlq_role_fails_a_dead_lettered_job(roles_env: RolesEnvironment, api_url: str) -> None:
    job = _call(api_url, "POST", "/jobs", json={"filename": "doomed.wav", "size_bytes": 1000}).json()
    bucket = roles_env.app_environment["ANEMONEFISH_INPUT_BUCKET"]
    key = _input_key(job["upload"]["url"], bucket)
    notification = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                                 "eventName": "ObjectCreated:Put",
                                 "s3": {"bucket": {"name": bucket}, "object": {"key": urllib.parse.quote_plus(key), "size": 1000}}}]}
    _write_a_result_document(roles_env, job["job_id"])  # what an earlier attempt left before it died
    roles_env.client("sqs").send_message(QueueUrl=roles_env.app_environment["ANEMONEFISH_DLQ_URL"],
                                         MessageBody=json.dumps(notification))
    done = _wait_for(api_url, job["job_id"], roles_env, timeout_s=60)
    assert done["status"] == "FAILED" and done["error"]["code"] == "processing_failed", f"{done}\n{roles_env.log_tail()}"
    assert roles_env.announced(job["job_id"], "FAILED"), roles_env.log_tail()  # sns:Publish by the DLQ consumer
    assert _result_documents(roles_env, job["job_id"]) == [], roles_env.log_tail()  # s3:DeleteObject by it


def test_the_sweeper_role_gives_up_a_job_whose_worker_was_lost(roles_env: RolesEnvironment, api_url: str) -> None:
    job = _call(api_url, "POST", "/jobs", json={"filename": "lost.wav", "size_bytes": 1000}).json()
    # A worker claimed it, wrote a document and was lost, as often as the sweeper re-drives.
    roles_env.client("dynamodb").update_item(
        TableName=roles_env.app_environment["ANEMONEFISH_JOBS_TABLE"], Key={"job_id": {"S": job["job_id"]}},
        UpdateExpression="SET #s = :running, open_status = :running, lease_owner = :owner, "
                         "lease_expires_at = :lapsed, redrives = :many",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":running": {"S": "RUNNING"}, ":owner": {"S": "worker-lost"},
                                   ":lapsed": {"N": str(time.time() - 60)}, ":many": {"N": "100"}})
    _write_a_result_document(roles_env, job["job_id"])
    proc = subprocess.run([sys.executable, str(RUN_AS_ROLE), "sweep", str(2 * 86400)], capture_output=True,
                          text=True, env=roles_env.function_env("sweeper"), timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert job["job_id"] in json.loads(proc.stdout.strip().splitlines()[-1])["failed"], proc.stdout[-4000:]
    unexpected = [line for line in proc.stdout.splitlines() if line.startswith("{")
                  and (entry := json.loads(line)).get("level") == "ERROR" and entry["message"] != "stalled job given up"]
    assert unexpected == [], "\n".join(unexpected)[-4000:]
    done = _call(api_url, "GET", f"/jobs/{job['job_id']}").json()
    assert done["status"] == "FAILED" and done["error"]["code"] == "worker_lost", done
    assert roles_env.announced(job["job_id"], "FAILED"), proc.stdout[-4000:]
    assert _result_documents(roles_env, job["job_id"]) == [], proc.stdout[-4000:]  # s3:DeleteObject by the sweeper


def _write_a_result_document(roles_env: RolesEnvironment, job_id: str) -> None:
    roles_env.client("s3").put_object(Bucket=roles_env.app_environment["ANEMONEFISH_OUTPUT_BUCKET"],
                                      Key=f"results/{job_id}/events.json", Body=b"{}")
    assert _result_documents(roles_env, job_id) == [f"results/{job_id}/events.json"]


def _result_documents(roles_env: RolesEnvironment, job_id: str) -> list[str]:
    listing = roles_env.client("s3").list_objects_v2(Bucket=roles_env.app_environment["ANEMONEFISH_OUTPUT_BUCKET"],
                                                     Prefix=f"results/{job_id}/")
    return [item["Key"] for item in listing.get("Contents", [])]


@pytest.mark.parametrize(
    ("function", "forbidden"),
    [
        ("worker", lambda env, c: c("s3").put_object(Bucket=env["ANEMONEFISH_INPUT_BUCKET"], Key="uploads/x/y.wav", Body=b"")),
        ("api", lambda env, c: c("dynamodb").delete_item(TableName=env["ANEMONEFISH_JOBS_TABLE"], Key={"job_id": {"S": "x"}})),
        ("sweeper", lambda env, c: c("sqs").receive_message(QueueUrl=env["ANEMONEFISH_DLQ_URL"])),
        ("dlq", lambda env, c: c("s3").list_objects_v2(Bucket=env["ANEMONEFISH_OUTPUT_BUCKET"])),
        ("webhooks", lambda env, c: c("dynamodb").update_item(
            TableName=env["ANEMONEFISH_JOBS_TABLE"], Key={"job_id": {"S": "x"}}, UpdateExpression="SET a = :a",
            ExpressionAttributeValues={":a": {"S": "b"}})),
        ("webhooks", lambda env, c: c("sqs").send_message(QueueUrl=env["ANEMONEFISH_JOBS_QUEUE_URL"], MessageBody="{}")),
    ],
)
def test_the_roles_are_enforced_so_the_passes_above_mean_something(
    roles_env: RolesEnvironment, function: str, forbidden: Any
) -> None:
    with pytest.raises(ClientError) as refused:
        forbidden(roles_env.app_environment, lambda service: roles_env.client(service, function))
    assert refused.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "403")


def test_webhooks_are_queued_by_the_worker_and_api_roles_and_sent_by_the_sender_role(
    roles_env: RolesEnvironment, api_url: str
) -> None:
    """A finished job's webhook goes through the webhooks queue: the worker (SUCCEEDED) and the
    API (a cancel) send it there under their roles, the sender reads the job and delivers it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = {"url": f"http://127.0.0.1:{server.server_address[1]}/hook"}
    try:
        data = _recording(4.0)
        done = _call(api_url, "POST", "/jobs", json={"filename": "hooked.wav", "size_bytes": len(data), "webhook": hook})
        assert done.status_code == 201, done.text
        bucket = roles_env.app_environment["ANEMONEFISH_INPUT_BUCKET"]
        roles_env.client("s3").put_object(Bucket=bucket, Key=_input_key(done.json()["upload"]["url"], bucket), Body=data)
        assert _wait_for(api_url, done.json()["job_id"], roles_env)["status"] == "SUCCEEDED"
        cancelled = _call(api_url, "POST", "/jobs", json={"filename": "dropped.wav", "size_bytes": 10, "webhook": hook})
        assert _call(api_url, "DELETE", f"/jobs/{cancelled.json()['job_id']}").status_code in (200, 202)
        expected = {(done.json()["job_id"], "SUCCEEDED"), (cancelled.json()["job_id"], "CANCELLED")}
        deadline = time.monotonic() + 60
        while {(m["data"]["job_id"], m["data"]["status"]) for m in received} != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert {(m["data"]["job_id"], m["data"]["status"]) for m in received} == expected, roles_env.log_tail()
    finally:
        server.shutdown()
        server.server_close()


def test_the_api_role_may_upload_where_its_presigned_urls_point(roles_env: RolesEnvironment) -> None:
    """moto cannot check a presigned request, so the authority the API role signs with is checked
    directly: an upload to uploads/ (single and parts) under the role's own credentials."""
    s3 = roles_env.client("s3", "api")
    bucket = roles_env.app_environment["ANEMONEFISH_INPUT_BUCKET"]
    s3.put_object(Bucket=bucket, Key="uploads/role-check/a.wav", Body=b"x")
    started = s3.create_multipart_upload(Bucket=bucket, Key="uploads/role-check/b.wav")
    s3.upload_part(Bucket=bucket, Key="uploads/role-check/b.wav", UploadId=started["UploadId"], PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="uploads/role-check/b.wav", UploadId=started["UploadId"])
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="elsewhere/a.wav", Body=b"x")
    # A cancel discards what an earlier attempt wrote (logic.cancel): DeleteObjects reports a
    # refusal per key in its answer, not as an error.
    output = roles_env.app_environment["ANEMONEFISH_OUTPUT_BUCKET"]
    answer = s3.delete_objects(Bucket=output, Delete={"Objects": [{"Key": "results/role-check/events.json"}]})
    assert not answer.get("Errors"), answer


def test_the_worker_role_may_delete_uploads_and_nothing_else(roles_env: RolesEnvironment) -> None:
    """The worker deletes the recording of a job cancelled or expired before it was analysed
    (logic.results.discard_upload), and only logs a refusal: checked here directly."""
    admin, worker = roles_env.client("s3"), roles_env.client("s3", "worker")
    bucket = roles_env.app_environment["ANEMONEFISH_INPUT_BUCKET"]
    for key in ("uploads/role-check/ended.wav", "elsewhere/kept.wav"):
        admin.put_object(Bucket=bucket, Key=key, Body=b"x")
    worker.delete_object(Bucket=bucket, Key="uploads/role-check/ended.wav")
    assert admin.list_objects_v2(Bucket=bucket, Prefix="uploads/role-check/ended").get("KeyCount", 0) == 0
    with pytest.raises(ClientError):
        worker.delete_object(Bucket=bucket, Key="elsewhere/kept.wav")


def test_no_function_logged_an_error_on_the_way(roles_env: RolesEnvironment, api_url: str) -> None:
    """A denied call the code survives (a notification, say) is logged, not raised: last in
    this module, after every job, no function may have logged one, but for the dead letter
    the DLQ test sent on purpose."""
    provoked = {"dead-lettered job marked FAILED"}
    errors = [line for log in sorted(roles_env.logs.glob("*.log")) for line in log.read_text().splitlines()
              if line.startswith("{") and (entry := json.loads(line))["level"] == "ERROR"
              and entry["message"] not in provoked]
    assert errors == [], "\n".join(errors)[-6000:]
