"""terraform-compliance over the offline plans of dev and prod, plus the rules a feature file
cannot express (they compare resources with each other or with the application's code)."""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import (
    COMPLIANCE,
    TERRAFORM_COMPLIANCE,
    load_plan,
    planned_resources,
    require,
    run,
)

from anemonefish_services.dal.jobs import OPEN_INDEX, OPEN_STATUS, TENANT_INDEX

pytestmark = pytest.mark.infra

FEATURES = sorted(p.name for p in COMPLIANCE.glob("*.feature"))
# prod.feature holds what only production must satisfy; everything else holds everywhere.
CASES = [(env, f) for env in ("dev", "prod") for f in FEATURES if env == "prod" or f != "prod.feature"]


def compliance(plan: Path, feature: str, tmp_path: Path) -> Any:
    """Run one feature file (alone: terraform-compliance caches the parsed plan across files and
    then loses the data sources the IAM rules read)."""
    tool = require(TERRAFORM_COMPLIANCE, "make infra-tools")
    features = tmp_path / f"features-{feature}"
    features.mkdir()
    (features / feature).write_text((COMPLIANCE / feature).read_text())
    return run([tool, "--no-ansi", "-p", str(plan), "-f", str(features)], check=False)


@pytest.mark.parametrize(("env_name", "feature"), CASES)
def test_plan_complies(env_name: str, feature: str, plans: Any, tmp_path: Path) -> None:
    proc = compliance(plans(env_name), feature, tmp_path)
    assert proc.returncode == 0, f"{feature} on {env_name}:\n{proc.stdout[-8000:]}{proc.stderr[-2000:]}"
    assert " failed" not in proc.stdout.split("features (")[-1], proc.stdout[-3000:]


# --- the rules bite: a plan that breaks them fails ----------------------------------------

def test_prod_rules_reject_the_dev_plan(plans: Any, tmp_path: Path) -> None:
    """dev has mutable tags, two weeks of logs and a deletable table: prod.feature must say so."""
    proc = compliance(plans("dev"), "prod.feature", tmp_path)
    assert proc.returncode != 0
    for expected in ("IMMUTABLE", "retention_in_days", "deletion_protection_enabled"):
        assert expected in proc.stdout


def _mutated(plan_path: Path, tmp_path: Path, mutate: Any) -> Path:
    plan = copy.deepcopy(load_plan(plan_path))
    mutate(plan)
    target = tmp_path / "mutated.json"
    target.write_text(json.dumps(plan))
    return target


def _module_resources(module: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(module.get("resources", []))
    for call in module.get("module_calls", {}).values():
        found += _module_resources(call["module"])
    return found


def test_a_wildcard_action_is_caught(plans: Any, tmp_path: Path) -> None:
    def grant_everything_on_s3(plan: dict[str, Any]) -> None:
        for resource in _module_resources(plan["configuration"]["root_module"]):
            if resource["address"] == "data.aws_iam_policy_document.worker":
                resource["expressions"]["statement"][2]["actions"]["constant_value"].append("s3:*")
                return
        raise AssertionError("worker policy document not found in the plan")

    proc = compliance(_mutated(plans("dev"), tmp_path, grant_everything_on_s3), "iam.feature", tmp_path)
    assert proc.returncode != 0
    assert "aws_iam_policy_document.worker" in proc.stdout


def test_the_sweeper_queries_the_open_jobs_index_and_never_scans_the_table(plans: Any) -> None:
    """dal.jobs finds overdue and stalled jobs by querying the sparse open-jobs index only."""
    plan = load_plan(plans("dev"))
    (document,) = [r for r in _module_resources(plan["configuration"]["root_module"])
                   if r["address"] == "data.aws_iam_policy_document.sweeper"]
    grants = [(set(st["actions"]["constant_value"]), set(st["resources"].get("references", [])))
              for st in document["expressions"]["statement"]]
    assert not any("dynamodb:Scan" in actions for actions, _ in grants)
    assert any("dynamodb:Query" in actions and "var.jobs_open_index_arn" in refs for actions, refs in grants)


def _grants(plan: dict[str, Any], document: str) -> list[tuple[set[str], set[str]]]:
    """The document's statements, with those of the documents it takes in (source_policy_documents)."""
    prefix = "data.aws_iam_policy_document."
    (doc,) = [r for r in _module_resources(plan["configuration"]["root_module"]) if r["address"] == prefix + document]
    sources = doc["expressions"].get("source_policy_documents", {}).get("references", [])
    taken_in = [grant for ref in sources if ref.startswith(prefix) and not ref.endswith(".json")
                for grant in _grants(plan, ref.removeprefix(prefix))]
    return [(set(st["actions"]["constant_value"]), set(st["resources"].get("references", [])))
            for st in doc["expressions"].get("statement", [])] + taken_in


def test_the_sweeper_and_the_dead_letter_consumer_may_send_to_the_jobs_queue(plans: Any) -> None:
    """Both re-drive a job whose worker died by sending its upload event to the jobs queue
    (logic.stalled, logic.dlq); without the grant every re-drive is AccessDenied in AWS."""
    plan = load_plan(plans("dev"))
    for document in ("sweeper", "dlq"):
        assert any("sqs:SendMessage" in actions and "var.jobs_queue_arn" in refs
                   for actions, refs in _grants(plan, document)), document


def test_the_worker_may_read_the_object_version_it_pins(plans: Any) -> None:
    """S3SeekableReader sends the VersionId of its HEAD on every ranged GET; on the versioned
    input bucket such a GET needs s3:GetObjectVersion, or every job fails with 403."""
    plan = load_plan(plans("dev"))
    versioned = {r["values"]["bucket"] for r in planned_resources(plan, "aws_s3_bucket_versioning")
                 if r["values"]["versioning_configuration"][0]["status"] == "Enabled"}
    assert "anemonefish-dev-input" in versioned
    assert any({"s3:GetObject", "s3:GetObjectVersion"} <= actions and "local.input_uploads_arn" in refs
               for actions, refs in _grants(plan, "worker"))


def test_the_worker_may_take_back_the_results_of_a_job_cancelled_while_they_were_written(plans: Any) -> None:
    """process_job._finish deletes the documents it wrote when the job turned out cancelled;
    without the grant that delete is AccessDenied in AWS and the results stay."""
    plan = load_plan(plans("dev"))
    assert any({"s3:PutObject", "s3:DeleteObject"} <= actions and "local.output_results_arn" in refs
               for actions, refs in _grants(plan, "worker"))


def test_whoever_ends_a_job_may_discard_its_results_and_nothing_else(plans: Any) -> None:
    """logic.results: the API (cancel), the worker, the dead-letter consumer and the sweeper
    (give-ups) delete a job's documents. The IAM test's emulator checks such a delete against
    the bucket only, so the prefix is checked here: results/*, never the bucket; only the
    worker deletes uploads (uploads/*: those of jobs cancelled or expired unanalysed)."""
    plan = load_plan(plans("dev"))
    for document in ("api", "worker", "dlq", "sweeper"):
        deletes = [refs for actions, refs in _grants(plan, document) if "s3:DeleteObject" in actions]
        expected = [{"local.input_uploads_arn"}] if document == "worker" else []
        assert sorted(deletes, key=sorted) == sorted([*expected, {"local.output_results_arn"}], key=sorted), (document, deletes)


def test_the_sweeper_may_look_for_an_upload_before_it_expires_the_job(plans: Any) -> None:
    """logic.expire queues an overdue job whose upload is there after all: HeadObject needs
    s3:GetObject, and a missing upload is a 404 (expire it) only with s3:ListBucket."""
    grants = _grants(load_plan(plans("dev")), "sweeper")
    assert any("s3:GetObject" in actions and "local.input_uploads_arn" in refs for actions, refs in grants)
    assert any("s3:ListBucket" in actions and "var.input_bucket_arn" in refs for actions, refs in grants)


def test_the_api_and_the_worker_may_tell_a_missing_upload_from_a_forbidden_one(plans: Any) -> None:
    """HeadObject on a missing key answers 404 only to a caller with s3:ListBucket, else 403:
    the worker fails such a job upload_missing, the API answers a repeated complete 400."""
    plan = load_plan(plans("dev"))
    for document in ("api", "worker"):
        assert any("s3:ListBucket" in actions and "var.input_bucket_arn" in refs
                   for actions, refs in _grants(plan, document)), document


def test_an_unencrypted_queue_is_caught(plans: Any, tmp_path: Path) -> None:
    def drop_queue_key(plan: dict[str, Any]) -> None:
        for change in plan["resource_changes"]:
            if change["type"] == "aws_sqs_queue":
                change["change"]["after"]["kms_master_key_id"] = None

    proc = compliance(_mutated(plans("dev"), tmp_path, drop_queue_key), "encryption.feature", tmp_path)
    assert proc.returncode != 0
    assert "kms_master_key_id" in proc.stdout


# --- rules across resources -----------------------------------------------------------

BUCKET_GUARDS = (
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_ownership_controls",
)


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_every_bucket_has_every_guard(env_name: str, plans: Any) -> None:
    plan = load_plan(plans(env_name))
    buckets = {r["values"]["bucket"] for r in planned_resources(plan, "aws_s3_bucket")}
    assert buckets == {f"anemonefish-{env_name}-{role}" for role in ("input", "output", "console")}
    for guard in BUCKET_GUARDS:
        guarded = [r["values"]["bucket"] for r in planned_resources(plan, guard)]
        assert sorted(guarded) == sorted(buckets), f"{guard} covers {guarded}, buckets are {sorted(buckets)}"


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_every_repository_expires_old_images(env_name: str, plans: Any) -> None:
    plan = load_plan(plans(env_name))
    repositories = {r["values"]["name"] for r in planned_resources(plan, "aws_ecr_repository")}
    assert repositories == {f"anemonefish-{env_name}-worker", f"anemonefish-{env_name}-api"}
    assert {r["values"]["repository"] for r in planned_resources(plan, "aws_ecr_lifecycle_policy")} == repositories


def _functions(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["values"]["function_name"]: r["values"] for r in planned_resources(plan, "aws_lambda_function")}


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_each_queue_s_visibility_timeout_is_six_timeouts_of_its_consumer(env_name: str, plans: Any) -> None:
    """The DLQ's used to be the jobs queue's 90 minutes: a dead letter its consumer could not
    settle came back only after an hour and a half."""
    plan = load_plan(plans(env_name))
    functions = _functions(plan)
    worker, consumer = functions[f"anemonefish-{env_name}-worker"], functions[f"anemonefish-{env_name}-dlq-consumer"]
    queues = {q["values"]["name"]: q["values"] for q in planned_resources(plan, "aws_sqs_queue")}
    jobs, dlq = queues[f"anemonefish-{env_name}-jobs"], queues[f"anemonefish-{env_name}-jobs-dlq"]
    assert jobs["visibility_timeout_seconds"] == 6 * worker["timeout"]
    assert dlq["visibility_timeout_seconds"] == max(6 * consumer["timeout"], worker["timeout"])
    # A letter left for a job still running under a live lease comes back after that worker ended.
    assert worker["timeout"] <= dlq["visibility_timeout_seconds"] < jobs["visibility_timeout_seconds"]


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_names_follow_the_architecture(env_name: str, plans: Any) -> None:
    """docs/architecture.md: resource names, keys, index and TTL attribute the code relies on."""
    plan = load_plan(plans(env_name))
    prefix = f"anemonefish-{env_name}"
    (table,) = [r["values"] for r in planned_resources(plan, "aws_dynamodb_table")]
    assert table["name"] == f"{prefix}-jobs" and table["hash_key"] == "job_id"
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    indexes = {(i["name"], i["hash_key"], i["range_key"]) for i in table["global_secondary_index"]}
    assert indexes == {(TENANT_INDEX, "tenant_id", "created_at"), (OPEN_INDEX, OPEN_STATUS, "updated_at")}
    assert table["ttl"][0] == {"attribute_name": "expires_at_epoch", "enabled": True}
    assert {a["name"]: a["type"] for a in table["attribute"]} == {
        "job_id": "S", "tenant_id": "S", "created_at": "S", OPEN_STATUS: "S", "updated_at": "S"}
    assert {r["values"]["name"] for r in planned_resources(plan, "aws_sqs_queue")} == {
        f"{prefix}-jobs", f"{prefix}-jobs-dlq", f"{prefix}-webhooks", f"{prefix}-webhooks-dlq"}
    assert f"{prefix}-job-events" in {r["values"]["name"] for r in planned_resources(plan, "aws_sns_topic")}
    assert set(_functions(plan)) == {f"{prefix}-{n}" for n in ("api", "worker", "dlq-consumer", "sweeper", "webhook-sender")}


def _settings_variables() -> set[str]:
    from anemonefish_services.settings import Settings

    names = set()
    for field_name, field in Settings.model_fields.items():
        aliases = getattr(field.validation_alias, "choices", None)
        names |= set(aliases) if aliases else {f"ANEMONEFISH_{field_name.upper()}"}
    return names


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_functions_get_every_setting_by_the_names_the_settings_model_reads(env_name: str, plans: Any) -> None:
    """The Lambdas' environment maps are unknown in a plan (the AWS provider cannot hold a map
    with some unknown values), so the environment reports the names it sets as an output."""
    plan = load_plan(plans(env_name))
    names_by_role = plan["output_changes"]["function_setting_names"]["after"]
    assert set(names_by_role) == {"api", "worker", "dlq", "sweeper", "webhooks"}
    known = _settings_variables()
    required = {"ANEMONEFISH_ENV", "ANEMONEFISH_INPUT_BUCKET", "ANEMONEFISH_OUTPUT_BUCKET", "ANEMONEFISH_JOBS_TABLE",
                "ANEMONEFISH_JOBS_QUEUE_URL", "ANEMONEFISH_DLQ_URL", "ANEMONEFISH_TOPIC_ARN", "ANEMONEFISH_AUTH_MODE",
                "ANEMONEFISH_CORS_ORIGINS", "ANEMONEFISH_WEBHOOK_SECRET", "ANEMONEFISH_WEBHOOKS_QUEUE_URL",
                "POWERTOOLS_SERVICE_NAME"}
    for role, names in names_by_role.items():
        app_variables = {n for n in names if n.startswith("ANEMONEFISH_")}
        assert app_variables <= known, f"{role} sets variables no setting reads: {sorted(app_variables - known)}"
        assert required <= set(names), f"{role} misses {sorted(required - set(names))}"
    assert "OPENBLAS_NUM_THREADS" in names_by_role["worker"]
    # The lifetimes the code must share with the resources: a job record's (its results are
    # reachable only through it) and a queue message's (the sweeper re-drives before it goes).
    lifetimes = {"ANEMONEFISH_JOB_TTL_DAYS", "ANEMONEFISH_JOBS_QUEUE_RETENTION_S"}
    assert all(lifetimes <= set(names) for names in names_by_role.values())
    assert "ANEMONEFISH_API_KEYS" in names_by_role["api"]


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_function_handlers_exist_in_the_code(env_name: str, plans: Any) -> None:
    """The image CMD each function names is a callable of the package (what Lambda will import)."""
    for name, function in _functions(load_plan(plans(env_name))).items():
        (handler,) = function["image_config"][0]["command"]
        module_name, _, attribute = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module_name), attribute)), f"{name}: {handler}"


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_worker_is_sized_and_wired_for_long_recordings(env_name: str, plans: Any) -> None:
    plan = load_plan(plans(env_name))
    worker = _functions(plan)[f"anemonefish-{env_name}-worker"]
    assert (worker["package_type"], worker["memory_size"], worker["timeout"]) == ("Image", 10240, 900)
    assert worker["ephemeral_storage"][0]["size"] >= 2048
    assert worker["reserved_concurrent_executions"] > 0
    mappings = {r["name"]: r["values"] for r in planned_resources(plan, "aws_lambda_event_source_mapping")}
    assert mappings["worker"]["function_response_types"] == ["ReportBatchItemFailures"]
    assert mappings["worker"]["batch_size"] == 1
    assert 2 <= mappings["worker"]["scaling_config"][0]["maximum_concurrency"] <= worker["reserved_concurrent_executions"]
    assert mappings["dlq"]["function_response_types"] == ["ReportBatchItemFailures"]


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_console_files_and_config_are_deployed(env_name: str, plans: Any) -> None:
    from infra_helpers import REPO

    static = REPO / "services" / "anemonefish_services" / "console" / "static"
    expected = {p.relative_to(static).as_posix() for p in static.rglob("*") if p.is_file()}
    objects = {r["values"]["key"]: r["values"] for r in planned_resources(load_plan(plans(env_name)), "aws_s3_object")}
    assert set(objects) == expected, "every console file (and config.js, written by Terraform) is uploaded"
    assert objects["index.html"]["content_type"].startswith("text/html")
    # Module scripts (the checksum worker and its vendored SHA-256 among them) must be served as JavaScript.
    assert all(values["content_type"].startswith("text/javascript") for key, values in objects.items() if key.endswith(".js"))
    assert "vendor/noble-hashes/sha2.js" in objects
    # Revalidated on each load: CloudFront's policy kept an upgrade's old app.js for a day.
    assert {values.get("cache_control") for values in objects.values()} == {"no-cache"}
    # config.js carries this deployment's API URL (known after apply), never the page's own origin.
    assert objects["config.js"]["content"] == "(known after apply)"
    plan = load_plan(plans(env_name))
    console_call = plan["configuration"]["root_module"]["module_calls"]["pipeline"]["module"]["module_calls"]["console"]
    assert "module.api.invoke_url" in console_call["expressions"]["api_base_url"]["references"]


def test_an_environment_sizes_its_functions_through_its_own_variables(initialized: Any, tmp_path: Path) -> None:
    """deploy.md names sizing variables an environment may set: they used to stop at the pipeline
    module (Terraform only warned of an undeclared variable, and the default stood)."""
    from infra_helpers import PLAN_VARS, terraform_bin

    env_dir = initialized("prod")
    binary = tmp_path / "sized.tfplan"
    sizing = {"worker_memory_mb": 4096, "worker_timeout_seconds": 600, "api_reserved_concurrency": 7,
              "dlq_batch_size": 5, "dlq_timeout_seconds": 120, "sweeper_timeout_seconds": 90}
    run([terraform_bin(), "plan", "-input=false", "-no-color", "-lock=false", "-refresh=false", f"-out={binary}",
         *PLAN_VARS["prod"], *(f"-var={name}={value}" for name, value in sizing.items())], cwd=env_dir)
    plan = json.loads(run([terraform_bin(), "show", "-json", "-no-color", str(binary)], cwd=env_dir).stdout)
    functions = _functions(plan)
    assert (functions["anemonefish-prod-worker"]["memory_size"], functions["anemonefish-prod-worker"]["timeout"]) == (4096, 600)
    assert functions["anemonefish-prod-api"]["reserved_concurrent_executions"] == 7
    assert functions["anemonefish-prod-sweeper"]["timeout"] == 90
    assert functions["anemonefish-prod-dlq-consumer"]["timeout"] == 120
    mappings = {r["name"]: r["values"] for r in planned_resources(plan, "aws_lambda_event_source_mapping")}
    assert mappings["dlq"]["batch_size"] == 5
    queues = {r["values"]["name"]: r["values"] for r in planned_resources(plan, "aws_sqs_queue")}
    assert queues["anemonefish-prod-jobs"]["visibility_timeout_seconds"] == 6 * 600


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_the_alarms_watch_what_moves_when_jobs_are_lost(env_name: str, plans: Any) -> None:
    """The DLQ consumer empties the dead-letter queue within seconds, so its depth never showed a
    lost job; dead letters are counted as received, and the consumer's and sweeper's errors alarm."""
    plan = load_plan(plans(env_name))
    alarms = {r["values"]["alarm_name"].removeprefix(f"anemonefish-{env_name}-"): r["values"]
              for r in planned_resources(plan, "aws_cloudwatch_metric_alarm")}
    dead = alarms["dead-letters"]
    assert (dead["namespace"], dead["metric_name"], dead["statistic"]) == ("AWS/SQS", "NumberOfMessagesReceived", "Sum")
    assert dead["dimensions"] == {"QueueName": f"anemonefish-{env_name}-jobs-dlq"}
    unread = alarms["dead-letters-unread"]  # a consumer that stopped taking them
    assert (unread["metric_name"], unread["dimensions"]) == ("ApproximateAgeOfOldestMessage", dead["dimensions"])
    for role in ("dlq-consumer", "sweeper"):
        alarm = alarms[f"{role}-errors"]
        assert alarm["metric_name"] == "Errors" and alarm["dimensions"] == {"FunctionName": f"anemonefish-{env_name}-{role}"}
    assert all(alarm["alarm_actions"] for alarm in alarms.values())


def test_the_account_wide_api_gateway_logging_role_writes_for_every_environment(plans: Any) -> None:
    """One role per account and region serves every API there: scoped to one environment's log
    groups, the environment that leaves the role to another could not log."""
    def documents(module: dict[str, Any]) -> list[dict[str, Any]]:
        found = [r for r in module.get("resources", []) if r["address"].endswith("data.aws_iam_policy_document.cloudwatch")]
        return found + [d for child in module.get("child_modules", []) for d in documents(child)]

    plan = load_plan(plans("prod"))
    (document,) = documents(plan["prior_state"]["values"]["root_module"])
    (statement,) = json.loads(document["values"]["json"])["Statement"]
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    assert any(r.endswith(":log-group:/aws/apigateway/anemonefish-*-api/access") for r in resources), resources
    assert any(r.endswith(":log-group:API-Gateway-Execution-Logs_*") for r in resources), resources


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_the_account_logging_role_has_its_policy_before_api_gateway_is_given_it(plans: Any, env_name: str) -> None:
    """UpdateAccount checks the role's permissions: set before its policy, a first apply fails."""
    plan = load_plan(plans(env_name))
    accounts = [r for r in _module_resources(plan["configuration"]["root_module"]) if r["address"] == "aws_api_gateway_account.this"]
    assert accounts and all("aws_iam_role_policy.cloudwatch" in r.get("depends_on", []) for r in accounts)


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_api_gateway_execution_logs_go_to_a_group_kept_as_the_others(env_name: str, plans: Any) -> None:
    """The stage logs errors to API-Gateway-Execution-Logs_<api id>/<stage>, which API Gateway
    made itself on first use: never expiring and without the environment's key."""
    plan = load_plan(plans(env_name))
    groups = {r["address"]: r["values"] for r in planned_resources(plan, "aws_cloudwatch_log_group")}
    (execution,) = [values for address, values in groups.items() if address.endswith("aws_cloudwatch_log_group.execution")]
    access = next(values for address, values in groups.items() if address.endswith("aws_cloudwatch_log_group.access"))
    assert execution["retention_in_days"] == access["retention_in_days"] > 0
    change = next(c for c in plan["resource_changes"] if c["address"].endswith("aws_cloudwatch_log_group.execution"))
    assert change["change"]["after_unknown"].get("name") and change["change"]["after_unknown"].get("kms_key_id")
    settings = next(c for c in plan["configuration"]["root_module"]["module_calls"]["pipeline"]["module"]["module_calls"]
                    ["api"]["module"]["resources"] if c["address"] == "aws_api_gateway_method_settings.all")
    assert "aws_cloudwatch_log_group.execution" in settings["depends_on"]
