"""The Terraform under deploy/terraform, parsed with python-hcl2 and checked against the code.

No terraform binary is needed: the HCL is read as data, variable values are resolved from the
defaults and from dev.tfvars, and every check compares what Terraform declares with what
lambda_bridge actually does (env vars it requires, handlers, idempotency attributes, the AWS
calls it makes, the key layout it writes).
"""

import ast
import functools
import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import boto3
import hcl2
import pyarrow as pa
import pytest
from hcl2.utils import SerializationOptions

from lambda_bridge import config, idempotency, keys
from lambda_bridge.chunks import DEFAULT_CHUNK_BYTES
from lambda_bridge.contracts import EXTRA_FIELD, LINEAGE_FIELDS, ContractRegistry

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM = ROOT / "deploy" / "terraform"
MODULES = TERRAFORM / "modules"
DEV = TERRAFORM / "envs" / "dev"
OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
REF = re.compile(r"^\$\{(var|local)\.([A-Za-z0-9_]+)\}$")

# What each AWS SDK call the code makes needs from IAM. get/head of a key that may be missing
# also needs s3:ListBucket: without it S3 answers 403 instead of 404 and the code's
# NoSuchKey/404 handling never sees the miss. The transform reads bronze by VersionId.
CALL_ACTIONS = {
    "s3": {
        "get_object": {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"},
        "head_object": {"s3:GetObject", "s3:ListBucket"},
        "put_object": {"s3:PutObject"},
        # A multipart upload (a large quarantine file): create, parts and complete are
        # s3:PutObject; s3transfer aborts the upload when a part fails.
        "upload_fileobj": {"s3:PutObject", "s3:AbortMultipartUpload"},
        # A streamed object's silver and quarantine files go out a part at a time.
        "create_multipart_upload": {"s3:PutObject"},
        "upload_part": {"s3:PutObject"},
        "complete_multipart_upload": {"s3:PutObject"},
        "abort_multipart_upload": {"s3:AbortMultipartUpload"},
        "delete_object": {"s3:DeleteObject"},
        "list_objects_v2": {"s3:ListBucket"},
    },
    "sqs": {
        "send_message": {"sqs:SendMessage"},
        # Ingest sends a split object's chunk messages ten at a time: the same permission.
        "send_message_batch": {"sqs:SendMessage"},
        "receive_message": {"sqs:ReceiveMessage"},
        "delete_message": {"sqs:DeleteMessage"},
        "get_queue_attributes": {"sqs:GetQueueAttributes"},
    },
    "dynamodb": {
        "get_item": {"dynamodb:GetItem"},
        "put_item": {"dynamodb:PutItem"},
        "update_item": {"dynamodb:UpdateItem"},
        "delete_item": {"dynamodb:DeleteItem"},
    },
}
CLIENT_CALL = re.compile(r"\b(?:self\.)?_?(s3|sqs|dynamodb|ddb|client)\.([a-z_]+)\(")
CLIENT_SERVICE = {
    "s3": "s3",
    "sqs": "sqs",
    "dynamodb": "dynamodb",
    "ddb": "dynamodb",
    "client": "dynamodb",
}
# Needed by every function whatever its code does: its own logs, and the data key of the
# encrypted buckets, queues and table.
BASE_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "kms:Decrypt", "kms:GenerateDataKey"}
TRACING_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# Actions with no resource-level permissions, so "*" is their only resource.
UNRESTRICTABLE_ACTIONS = TRACING_ACTIONS | {"cloudwatch:GetMetricStatistics"}
# What the event source mapping does with the function's role to poll the queue.
ESM_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
}
SCENARIOS = ["defaults", "dev.tfvars"]
# DESIGN §10: what the Dagster side reads to reach the warehouse on AWS (the password itself only
# from the secret). Set by the deployment, so each is an output of envs/dev.
WAREHOUSE_ENV_VARS = {"ELT_WAREHOUSE_URL", "ELT_WAREHOUSE_SECRET_ARN"}
# Where the Dagster side reads its environment (the CLI's local stack sets its own).
DAGSTER_SOURCES = [ROOT / "elt_assets" / "lib", ROOT / "elt_assets" / "defs"]
POSTGRES_PORT = 5432


# --- reading HCL ------------------------------------------------------------------------------


@functools.cache
def parse(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return hcl2.load(f, serialization_options=OPTIONS)


def tf_dirs() -> list[Path]:
    return sorted({p.parent for p in TERRAFORM.rglob("*.tf")})


def blocks(directory: Path, kind: str) -> dict[str, Any]:
    """`variable`/`output`/`module`/`locals` blocks of a directory, by name."""
    found: dict[str, Any] = {}
    for path in sorted(directory.glob("*.tf")):
        for block in parse(path).get(kind, []):
            found.update(block)
    return found


def resources(directory: Path, kind: str = "resource") -> dict[str, dict[str, Any]]:
    """`{"aws_x.name": body}` for the resources (or data sources) of a directory."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for block in parse(path).get(kind, []):
            for rtype, named in block.items():
                for name, body in named.items():
                    found[f"{rtype}.{name}"] = body
    return found


def one(value: Any) -> Any:
    """A nested block as python-hcl2 gives it (a list of one dict)."""
    return value[0] if isinstance(value, list) else value


def variable_values(directory: Path, tfvars: Path | None = None) -> dict[str, Any]:
    values = {name: body.get("default") for name, body in blocks(directory, "variable").items()}
    if tfvars is not None:
        values.update(parse(tfvars))
    return values


class Scope:
    """Variable values and locals of one module instance, enough to resolve plain references."""

    def __init__(self, variables: dict[str, Any], local_values: dict[str, Any]) -> None:
        self.variables = variables
        self.locals = local_values

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            match = REF.match(value)
            if match:
                kind, name = match.groups()
                table = self.variables if kind == "var" else self.locals
                assert name in table, f"{value} is not declared"
                return self.resolve(table[name])
        return value


def root_scope(scenario: str) -> Scope:
    tfvars = DEV / "dev.tfvars" if scenario == "dev.tfvars" else None
    return Scope(variable_values(DEV, tfvars), blocks(DEV, "locals"))


def module_call(name: str) -> dict[str, Any]:
    calls = blocks(DEV, "module")
    assert name in calls, f"envs/dev calls no module {name!r}"
    return calls[name]


def module_dir(name: str) -> Path:
    return (DEV / module_call(name)["source"]).resolve()


def module_scope(name: str, scenario: str) -> Scope:
    """The scope inside the module called `name` by envs/dev, its arguments resolved."""
    root = root_scope(scenario)
    directory = module_dir(name)
    variables = variable_values(directory)
    for arg, value in module_call(name).items():
        if arg in variables:
            variables[arg] = root.resolve(value)
    return Scope(variables, blocks(directory, "locals"))


def calls_of_module(source: str) -> dict[str, dict[str, Any]]:
    return {
        name: body
        for name, body in blocks(DEV, "module").items()
        if (DEV / body["source"]).resolve() == (MODULES / source).resolve()
    }


def lambda_calls() -> dict[str, dict[str, Any]]:
    """Lambda module calls of envs/dev by function key (`ingest`, `transform`)."""
    calls = {}
    for name, body in calls_of_module("lambda").items():
        handler = body["handler"]
        calls[handler.split(".")[-2]] = {"module": name, **body}
    return calls


# --- reading the code -------------------------------------------------------------------------


def source_file(module: str) -> Path | None:
    """The file of a lambda_bridge module, or None when the dotted name is not a module."""
    path = ROOT / Path(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_path(module: str) -> Path:
    path = source_file(module)
    assert path is not None, module
    return path


def closure(handler_module: str) -> list[str]:
    """The lambda_bridge modules a handler module imports, transitively, itself included."""
    seen: list[str] = []
    todo = [handler_module]
    while todo:
        module = todo.pop()
        if module in seen or source_file(module) is None:
            continue
        seen.append(module)
        tree = ast.parse(module_path(module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.startswith("lambda_bridge")]
            elif (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").startswith("lambda_bridge")
            ):
                todo.append(node.module)
                todo += [f"{node.module}.{a.name}" for a in node.names]
    return seen


def required_env_vars(handler_module: str) -> set[str]:
    """ELT_* variables the handler module makes mandatory with `Settings.require(...)`."""
    probe = {name: f"<{name}>" for name in config.ALL_ENV_VARS}
    settings = config.Settings.from_env(probe)
    env_of_field = {
        field: name
        for field in ("bronze_bucket", "silver_bucket", "queue_url", "dlq_url", "idempotency_table")
        for name, value in probe.items()
        if getattr(settings, field) == value
    }
    fields: set[str] = set()
    source = module_path(handler_module).read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "require":
            fields |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    assert fields, f"{handler_module} requires no setting: is Settings.require still used?"
    return {env_of_field[f] for f in fields}


def powertools_dynamodb_calls() -> set[str]:
    from aws_lambda_powertools.utilities.idempotency.persistence import dynamodb

    source = Path(dynamodb.__file__).read_text(encoding="utf-8")
    return set(re.findall(r"self\.client\.([a-z_]+)\(", source))


def code_actions(handler_module: str) -> dict[str, set[str]]:
    """IAM actions of the SDK calls a handler's code makes, by service."""
    needed: dict[str, set[str]] = {}
    for module in closure(handler_module):
        source = module_path(module).read_text(encoding="utf-8")
        calls = [(CLIENT_SERVICE[c], m) for c, m in CLIENT_CALL.findall(source)]
        if "DynamoDBPersistenceLayer" in source:
            calls += [("dynamodb", m) for m in powertools_dynamodb_calls()]
        for service, method in calls:
            actions = CALL_ACTIONS[service].get(method)
            assert actions is not None, (
                f"{module} calls {service}.{method}: add its IAM actions to CALL_ACTIONS "
                "and to the function's policy statements"
            )
            needed.setdefault(service, set()).update(actions)
    return needed


# --- IAM statements ---------------------------------------------------------------------------


def iam_statements() -> list[tuple[str, dict[str, Any]]]:
    """Every literal IAM statement in the Terraform, with where it is."""
    found = []
    for directory in tf_dirs():
        for name, body in resources(directory, "data").items():
            if not name.startswith("aws_iam_policy_document."):
                continue
            for statement in body.get("statement", []):
                found.append((f"{directory.relative_to(TERRAFORM)}: {name}", statement))
            for dynamic in body.get("dynamic", []):
                for content in one(dynamic["statement"])["content"]:
                    if isinstance(content.get("actions"), list):
                        found.append(
                            (f"{directory.relative_to(TERRAFORM)}: {name} (dynamic)", content)
                        )
        for local_name, value in blocks(directory, "locals").items():
            if local_name.endswith("policy_statements"):
                found += [
                    (f"{directory.relative_to(TERRAFORM)}: local.{local_name}", s) for s in value
                ]
    return found


def role_statements(function: str, scenario: str = "defaults") -> list[dict[str, Any]]:
    """The statements of a function's role: the lambda module's own plus those passed in."""
    call = lambda_calls()[function]
    scope = module_scope(call["module"], scenario)
    document = resources(MODULES / "lambda", "data")["aws_iam_policy_document.this"]
    statements = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        body = one(dynamic["statement"])
        for content in body["content"]:
            if isinstance(content.get("actions"), list):
                # The only literal dynamic statement is tracing, present when tracing is Active.
                assert "tracing_mode" in body["for_each"], body["for_each"]
                if scope.variables["tracing_mode"] == "Active":
                    statements.append(content)
    passed = scope.variables["policy_statements"]
    assert isinstance(passed, list), f"{call['module']}: policy_statements must be a local list"
    return statements + passed


def allowed(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """action -> resources it is allowed on."""
    grants: dict[str, set[str]] = {}
    for statement in statements:
        if statement.get("effect", "Allow") != "Allow":
            continue
        for action in statement["actions"]:
            grants.setdefault(action, set()).update(statement["resources"])
    return grants


# --- tests ------------------------------------------------------------------------------------


def test_every_variable_and_output_is_typed_and_described():
    problems = []
    for directory in tf_dirs():
        where = directory.relative_to(TERRAFORM)
        for name, body in blocks(directory, "variable").items():
            if "type" not in body:
                problems.append(f"{where}: variable {name} has no type")
            if not str(body.get("description", "")).strip():
                problems.append(f"{where}: variable {name} has no description")
        # Terraform outputs have no `type` argument (validate rejects one): a description it is.
        for name, body in blocks(directory, "output").items():
            if not str(body.get("description", "")).strip():
                problems.append(f"{where}: output {name} has no description")
    assert not problems, "\n".join(problems)


def test_layout_and_pinned_versions():
    problems = []
    for directory in tf_dirs():
        where = directory.relative_to(TERRAFORM)
        expected = ["main.tf", "outputs.tf", "variables.tf", "versions.tf"]
        missing = [f for f in expected if not (directory / f).is_file()]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        terraform = one(parse(directory / "versions.tf")["terraform"])
        required = terraform.get("required_version", "")
        if not re.search(r"<|~>", required):
            problems.append(f"{where}: required_version {required!r} has no upper bound")
        aws = one(terraform.get("required_providers", [{}])).get("aws", {})
        if aws.get("source") != "hashicorp/aws" or not re.search(r"<|~>", aws.get("version", "")):
            problems.append(
                f"{where}: aws provider {aws!r} is not pinned to hashicorp/aws with an upper bound"
            )
    assert not problems, "\n".join(problems)


def test_singletons_are_named_this():
    problems = []
    for directory in (MODULES / d for d in sorted(p.name for p in MODULES.iterdir())):
        by_type: dict[str, list[str]] = {}
        for name in resources(directory):
            rtype, _, rname = name.partition(".")
            by_type.setdefault(rtype, []).append(rname)
        for rtype, names in by_type.items():
            if (
                len(names) == 1
                and names[0] != "this"
                and rtype
                in {
                    "aws_lambda_function",
                    "aws_dynamodb_table",
                    "aws_kms_key",
                    "aws_sns_topic",
                    "aws_iam_policy",
                    "aws_athena_workgroup",
                    "aws_glue_catalog_database",
                    "aws_lambda_event_source_mapping",
                    "aws_lambda_permission",
                }
            ):
                problems.append(
                    f"modules/{directory.name}: {rtype}.{names[0]} should be named this"
                )
    assert not problems, "\n".join(problems)


def test_handlers_resolve_to_functions():
    calls = lambda_calls()
    assert set(calls) == {"ingest", "transform"}, sorted(calls)
    for call in calls.values():
        module_name, _, func = call["handler"].rpartition(".")
        handler = getattr(importlib.import_module(module_name), func, None)
        assert callable(handler), f"{call['handler']} does not resolve to a function"


def test_build_script_packs_the_handlers_terraform_deploys():
    spec = importlib.util.spec_from_file_location("deploy_build", ROOT / "deploy" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert {f: c["handler"] for f, c in lambda_calls().items()} == build.FUNCTIONS
    defaults = variable_values(DEV)
    for function in ("ingest", "transform"):
        zip_default = defaults[f"{function}_zip"]
        assert zip_default == f"dist/{function}.zip", zip_default
    runtimes = re.findall(
        r"python3\.\d+",
        one(blocks(MODULES / "lambda", "variable")["runtime"]["validation"])["condition"],
    )
    assert sorted(r.removeprefix("python") for r in runtimes) == sorted(build.RUNTIME_GLIBC)
    assert defaults["lambda_runtime"].removeprefix("python") in build.RUNTIME_GLIBC


def test_repo_paths_resolve_from_the_dev_root():
    locals_ = blocks(DEV, "locals")
    repo_root = (DEV / locals_["repo_root"].replace("${path.root}/", "")).resolve()
    assert repo_root == ROOT
    defaults = variable_values(DEV)
    assert (repo_root / defaults["contracts_dir"]).resolve() == (ROOT / "elt_assets" / "contracts")
    assert "yamldecode" in locals_["contracts"] and "fileset" in locals_["contracts"]


@pytest.mark.parametrize("function", ["ingest", "transform"])
def test_each_env_var_the_handler_requires_is_set_with_the_output_value(function):
    call = lambda_calls()[function]
    environment = root_scope("defaults").resolve(call["environment"])
    assert isinstance(environment, dict), f"{call['module']}: environment must be a local map"
    required = required_env_vars(call["handler"].rpartition(".")[0])
    missing = required - set(environment)
    assert not missing, f"{function} Lambda lacks {sorted(missing)}"
    outputs = blocks(DEV, "output")
    # The chunk size is a limit, not a place: both functions get it from one variable.
    assert environment.pop(config.ENV_CHUNK_BYTES) == "${tostring(var.chunk_bytes)}"
    assert blocks(DEV, "variable")["chunk_bytes"]["default"] == DEFAULT_CHUNK_BYTES
    for name, value in environment.items():
        if name.startswith("ELT_"):
            assert name in config.ALL_ENV_VARS, (
                f"{function}: {name} is not a setting lambda_bridge.config knows"
            )
            assert outputs[name]["value"] == value, f"{function}: {name} differs from output {name}"
        else:
            assert name.startswith("POWERTOOLS_"), name
    assert environment.get("POWERTOOLS_METRICS_NAMESPACE") == "ELT"


def test_outputs_are_the_design_environment():
    outputs = blocks(DEV, "output")
    expected = {n for n in config.ALL_ENV_VARS if n != config.ENV_CONTRACTS_DIR} | {"AWS_REGION"}
    expected |= WAREHOUSE_ENV_VARS
    upper = {n for n in outputs if n.isupper()}
    assert upper == expected, f"upper-case outputs {sorted(upper)} != {sorted(expected)}"
    for name in ("athena_workgroup", "glue_database", "dagster_policy_arn"):
        assert name in outputs, name


def test_idempotency_table_matches_the_persistence_layer():
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    layer = idempotency.persistence_layer("table", client)
    assert (layer.key_attr, layer.expiry_attr) == (
        idempotency.IDEMPOTENCY_KEY_ATTR,
        idempotency.IDEMPOTENCY_TTL_ATTR,
    )
    scope = module_scope("idempotency", "defaults")
    table = resources(module_dir("idempotency"))["aws_dynamodb_table.this"]
    assert scope.resolve(table["hash_key"]) == layer.key_attr
    attribute = one(table["attribute"])
    assert (scope.resolve(attribute["name"]), attribute["type"]) == (layer.key_attr, "S")
    ttl = one(table["ttl"])
    assert scope.resolve(ttl["attribute_name"]) == layer.expiry_attr
    assert ttl["enabled"] is True
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert one(table["point_in_time_recovery"])["enabled"] is True
    assert one(table["server_side_encryption"])["enabled"] is True
    assert "range_key" not in table, "Powertools writes only the partition key"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_queue_visibility_is_at_least_six_times_the_transform_timeout(scenario):
    queue_scope = module_scope("queue", scenario)
    queue = resources(module_dir("queue"))["aws_sqs_queue.this"]
    visibility = queue_scope.resolve(queue["visibility_timeout_seconds"])
    transform = lambda_calls()["transform"]
    timeout = module_scope(transform["module"], scenario).resolve(
        resources(MODULES / "lambda")["aws_lambda_function.this"]["timeout"]
    )
    assert isinstance(visibility, int) and isinstance(timeout, int), (visibility, timeout)
    assert visibility >= 6 * timeout, (
        f"visibility {visibility} s < 6 x transform timeout {timeout} s"
    )
    # The module's own precondition must be fed the transform's timeout, not another number.
    assert queue_scope.variables["consumer_timeout_seconds"] == timeout
    conditions = [one(p)["condition"] for p in one(queue["lifecycle"])["precondition"]]
    assert any("6 * var.consumer_timeout_seconds" in c for c in conditions), conditions


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_redrive_and_retention(scenario):
    scope = module_scope("queue", scenario)
    queues = resources(module_dir("queue"))
    redrive = queues["aws_sqs_queue.this"]["redrive_policy"]
    assert "deadLetterTargetArn = aws_sqs_queue.dlq.arn" in redrive, redrive
    count = re.search(r"maxReceiveCount\s*=\s*([^,}]+)", redrive)
    assert count, redrive
    max_receive = scope.resolve("${" + count.group(1).strip() + "}")
    assert isinstance(max_receive, int) and max_receive >= 5, max_receive
    dlq_retention = scope.resolve(queues["aws_sqs_queue.dlq"]["message_retention_seconds"])
    queue_retention = scope.resolve(queues["aws_sqs_queue.this"]["message_retention_seconds"])
    assert dlq_retention > queue_retention, (dlq_retention, queue_retention)
    for name, queue in queues.items():
        if name.startswith("aws_sqs_queue."):
            assert queue.get("kms_master_key_id") or queue.get("sqs_managed_sse_enabled"), (
                f"{name} is not encrypted"
            )


def test_event_source_mapping_reports_batch_item_failures():
    ((name, call),) = calls_of_module("transform_trigger").items()
    scope = module_scope(name, "dev.tfvars")
    mapping = resources(module_dir(name))["aws_lambda_event_source_mapping.this"]
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    concurrency = scope.resolve(one(mapping["scaling_config"])["maximum_concurrency"])
    assert isinstance(concurrency, int) and 2 <= concurrency <= 1000, concurrency
    assert (
        call["function_name"]
        == f"${{module.{lambda_calls()['transform']['module']}.function_name}}"
    )
    assert call["queue_arn"] == "${module.queue.queue_arn}"
    assert scope.resolve(mapping["batch_size"]) >= 1


def test_bronze_notification_is_scoped_to_this_bucket_and_account():
    ((name, call),) = calls_of_module("ingest_trigger").items()
    scope = module_scope(name, "defaults")
    found = resources(module_dir(name))
    permission = found["aws_lambda_permission.this"]
    assert permission["principal"] == "s3.amazonaws.com"
    assert permission.get("source_arn") and permission.get("source_account"), permission
    notification = one(found["aws_s3_bucket_notification.this"]["lambda_function"])
    assert notification["events"] == ["s3:ObjectCreated:*"]
    prefix = scope.resolve(notification["filter_prefix"])
    for contract in ContractRegistry.load():
        assert contract.bronze_prefix.startswith(prefix), (contract.name, prefix)
    invoke = found["aws_lambda_function_event_invoke_config.this"]
    assert one(one(invoke["destination_config"])["on_failure"])["destination"]
    assert 0 <= scope.resolve(invoke["maximum_retry_attempts"]) <= 2
    ingest_module = lambda_calls()["ingest"]["module"]
    assert call["function_arn"] == f"${{module.{ingest_module}.function_arn}}"
    assert call["bucket_arn"] == "${module.storage.bronze_bucket_arn}"


def test_no_wildcard_in_any_allow_statement():
    problems = []
    statements = iam_statements()
    assert len(statements) > 20, "too few statements found: is the parser still reading them?"
    for where, statement in statements:
        if statement.get("effect", "Allow") != "Allow":
            continue  # a wildcard in a Deny (TLS-only bucket policies) only narrows access
        actions, resources_ = statement["actions"], statement.get("resources", [])
        if actions == ["sts:AssumeRole"]:
            assert not resources_, where  # a trust policy names principals, not resources
        for action in actions:
            if "*" in action:
                problems.append(f"{where}: action {action}")
        for resource in resources_:
            if resource == "*" and not set(actions) <= UNRESTRICTABLE_ACTIONS:
                problems.append(f"{where}: resource * for {actions}")
            elif resource != "*" and not resource.startswith(("${", "arn:")):
                problems.append(f"{where}: resource {resource} names no ARN")
        for principal in statement.get("principals", []):
            if "*" in principal["identifiers"]:
                problems.append(f"{where}: principal *")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("function", ["ingest", "transform"])
def test_role_allows_exactly_what_the_code_calls(function):
    handler_module = lambda_calls()[function]["handler"].rpartition(".")[0]
    needed = code_actions(handler_module)
    expected = BASE_ACTIONS | TRACING_ACTIONS | set().union(*needed.values())
    if function == "transform":
        expected |= ESM_ACTIONS
    grants = allowed(role_statements(function))
    assert set(grants) == expected, (
        f"{function} role: missing {sorted(expected - set(grants))}, "
        f"beyond the code {sorted(set(grants) - expected)}"
    )


def test_ingest_role_reaches_the_resources_its_code_uses():
    grants = allowed(role_statements("ingest"))
    ingest_trigger = next(iter(calls_of_module("ingest_trigger").values()))
    assert "${module.queue.queue_arn}" in grants["sqs:SendMessage"]
    # Lambda delivers failed asynchronous events to the destination with the function's role.
    destination = ingest_trigger["on_failure_destination_arn"]
    assert destination in grants["sqs:SendMessage"], destination
    for action in (
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ):
        assert grants[action] == {"${module.idempotency.table_arn}"}, action
    assert grants["kms:Decrypt"] == {"${module.kms.key_arn}"}


def test_transform_role_reaches_the_keys_the_code_reads_and_writes():
    grants = allowed(role_statements("transform"))
    bronze = "${module.storage.bronze_bucket_arn}"
    silver = "${module.storage.silver_bucket_arn}"
    for contract in ContractRegistry.load():
        assert contract.bronze_prefix.startswith("bronze/")
    assert f"{bronze}/bronze/*" in grants["s3:GetObject"]
    assert f"{bronze}/bronze/*" in grants["s3:GetObjectVersion"]
    assert {bronze, silver} <= grants["s3:ListBucket"]
    written = {
        "silver": keys.silver_key("d", "2024-01-01", "p"),
        "quarantine": keys.quarantine_key("d", "2024-01-01", "p"),
        "manifest": keys.manifest_key("d", "2024-01-01", "p"),
        "index": keys.index_key("d", "p"),
    }
    for kind, key in written.items():
        resource = f"{silver}/{key.split('/')[0]}/*"
        assert resource in grants["s3:PutObject"], f"cannot write {kind} keys ({key})"
        assert resource in grants["s3:DeleteObject"], f"cannot delete {kind} keys ({key})"
    # Streamed objects write silver and quarantine as multipart uploads, aborted on failure.
    for kind in ("silver", "quarantine"):
        resource = f"{silver}/{written[kind].split('/')[0]}/*"
        assert resource in grants["s3:AbortMultipartUpload"], f"cannot abort {kind} uploads"
    index_prefix = f"{silver}/{written['index'].split('/')[0]}/*"
    assert index_prefix in grants["s3:GetObject"], "cannot read the _index records"
    assert not any(r.startswith(silver) and r != index_prefix for r in grants["s3:GetObject"]), (
        grants["s3:GetObject"]
    )
    queue_actions = {a for a in grants if a.startswith("sqs:")}
    assert queue_actions == ESM_ACTIONS
    assert all(grants[a] == {"${module.queue.queue_arn}"} for a in queue_actions)


def test_dagster_policy_covers_the_control_plane():
    document = resources(MODULES / "dagster_iam", "data")["aws_iam_policy_document.this"]
    grants = allowed(document["statement"])
    expected = {
        "s3:ListBucket": {"${var.bronze_bucket_arn}", "${var.silver_bucket_arn}"},
        "s3:ListBucketVersions": {"${var.bronze_bucket_arn}"},
        "s3:GetObjectVersion": {"${var.bronze_bucket_arn}/bronze/*"},
        "s3:PutObject": {"${var.silver_bucket_arn}/*"},
        "s3:DeleteObject": {"${var.silver_bucket_arn}/*"},
        # A replay writes a large quarantine file as the transform does: a multipart upload.
        "s3:AbortMultipartUpload": {
            "${var.silver_bucket_arn}/silver/*",
            "${var.silver_bucket_arn}/quarantine/*",
        },
        "sqs:GetQueueAttributes": {"${var.queue_arn}", "${var.dlq_arn}"},
        "sqs:StartMessageMoveTask": {"${var.dlq_arn}"},
        "sqs:ListMessageMoveTasks": {"${var.dlq_arn}"},
        "sqs:CancelMessageMoveTask": {"${var.dlq_arn}"},
        "sqs:ReceiveMessage": {"${var.dlq_arn}"},
        "sqs:DeleteMessage": {"${var.dlq_arn}"},
        "sqs:ChangeMessageVisibility": {"${var.dlq_arn}"},
        "sqs:SendMessage": {"${var.queue_arn}"},
        "dynamodb:GetItem": {"${var.idempotency_table_arn}"},
        # The queue_depth sensor: the oldest message's age lives only in CloudWatch.
        "cloudwatch:GetMetricStatistics": {"*"},
        # partition_ready events and gate alerts, on exactly their two topics.
        "sns:Publish": {"${var.events_topic_arn}", "${var.alerts_topic_arn}"},
    }
    landings = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    for action in landings:
        expected[action] = expected.get(action, set()) | {"${var.landings_queue_arn}"}
    for action, resources_ in expected.items():
        assert grants.get(action) == resources_, f"{action}: {grants.get(action)}"
    assert grants["s3:GetObject"] == {
        "${var.bronze_bucket_arn}/bronze/*",
        "${var.silver_bucket_arn}/*",
    }


def hive_type(arrow_type: pa.DataType) -> str:
    """The Glue/Athena type Parquet of this Arrow type is read as."""
    simple = {
        pa.string(): "string",
        pa.int64(): "bigint",
        pa.int32(): "int",
        pa.float64(): "double",
        pa.float32(): "float",
        pa.bool_(): "boolean",
        pa.date32(): "date",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_list(arrow_type):
        return f"array<{hive_type(arrow_type.value_type)}>"
    if pa.types.is_struct(arrow_type):
        fields = ",".join(f"{f.name}:{hive_type(f.type)}" for f in arrow_type)
        return f"struct<{fields}>"
    msg = f"no Glue type for {arrow_type}"
    raise AssertionError(msg)


def hcl_type_mapping(text: str):
    """The nested replace() chain of envs/dev as a Python function (applied inner first)."""
    steps = re.findall(r'"((?:[^"\\]|\\.)*)", "((?:[^"\\]|\\.)*)"\)', text)
    assert steps, text

    def apply(value: str) -> str:
        for pattern, replacement in steps:
            pattern = pattern.replace("\\\\", "\\")
            if pattern.startswith("/") and pattern.endswith("/"):
                value = re.sub(pattern[1:-1], replacement, value)
            else:
                value = value.replace(pattern, replacement)
        return value

    return apply


@pytest.mark.parametrize(
    ("contract_type", "arrow"),
    [
        (
            "struct<a: int64, is_bool: bool>",
            pa.struct([("a", pa.int64()), ("is_bool", pa.bool_())]),
        ),
        ("list<list<float32>>", pa.list_(pa.list_(pa.float32()))),
        ("int32", pa.int32()),
    ],
)
def test_hcl_type_mapping_handles_nested_types(contract_type, arrow):
    mapping = hcl_type_mapping(blocks(DEV, "locals")["glue_datasets"])
    assert mapping(contract_type) == hive_type(arrow)


def test_glue_tables_follow_the_contracts():
    mapping = hcl_type_mapping(blocks(DEV, "locals")["glue_datasets"])
    catalog_locals = blocks(MODULES / "catalog", "locals")
    lineage = [(c["name"], c["type"]) for c in catalog_locals["lineage_columns"]]
    assert lineage == [(f.name, hive_type(f.type)) for f in LINEAGE_FIELDS]
    for contract in ContractRegistry.load():
        declared = [(c.name, mapping(c.type)) for c in contract.columns]
        assert declared == [(f.name, hive_type(f.type)) for f in contract.arrow_schema], (
            contract.name
        )
    # `extra_fields: keep` adds `_extra` (a JSON string) after the declared columns, as silver does.
    assert EXTRA_FIELD.name == "_extra" and EXTRA_FIELD.type == pa.string()
    text = blocks(DEV, "locals")["glue_datasets"]
    assert re.search(
        r'extra_fields, "drop"\) == "keep" \? \[\{\s*name = "_extra", type = "string"', text
    ), text
    table = resources(MODULES / "catalog")["aws_glue_catalog_table.this"]
    parameters = table["parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.dt.type"] == "date"
    assert parameters["projection.dt.format"] == "yyyy-MM-dd"
    silver_prefix = (
        keys.silver_key("DATASET", "DAY", "p").split("/dt=")[0].replace("DATASET", "${each.key}")
    )
    assert (
        one(table["storage_descriptor"])["location"]
        == "s3://${var.silver_bucket}/" + silver_prefix + "/"
    )
    template = parameters["storage.location.template"]
    assert template == "s3://${var.silver_bucket}/" + silver_prefix + "/dt=$${dt}/", template
    serde = one(one(table["storage_descriptor"])["ser_de_info"])
    assert serde["serialization_library"].endswith("ParquetHiveSerDe")
    assert [k["name"] for k in table["partition_keys"]] == ["dt"]


def test_athena_results_are_enforced_and_encrypted():
    workgroup = resources(MODULES / "catalog")["aws_athena_workgroup.this"]
    configuration = one(workgroup["configuration"])
    assert configuration["enforce_workgroup_configuration"] is True
    result = one(configuration["result_configuration"])
    assert result["output_location"] == "s3://${var.silver_bucket}/athena-results/"
    assert one(result["encryption_configuration"])["encryption_option"] == "SSE_KMS"


def test_alarms_cover_the_queues_and_both_functions():
    alarms = {
        name: body
        for name, body in resources(MODULES / "observability").items()
        if name.startswith("aws_cloudwatch_metric_alarm.")
    }
    metrics = {(a["namespace"], a["metric_name"]) for a in alarms.values()}
    assert {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
    } <= metrics
    for name, alarm in alarms.items():
        assert alarm["alarm_actions"] == ["${aws_sns_topic.this.arn}"], name
        if alarm["namespace"] == "AWS/Lambda":
            assert alarm.get("for_each") == "${var.function_names}", name
    call = next(iter(calls_of_module("observability").values()))
    assert root_scope("defaults").resolve(call["function_names"]).keys() == {"ingest", "transform"}


def test_checkov_skips_carry_a_reason():
    problems = []
    for path in sorted(TERRAFORM.rglob("*.tf")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "checkov:skip" not in line:
                continue
            match = re.match(r"^\s*#checkov:skip=(CKV2?_AWS_\d+):(.{20,})$", line)
            if not match:
                problems.append(f"{path.relative_to(TERRAFORM)}:{number}: {line.strip()}")
    assert not problems, "skips need `#checkov:skip=CKV_..:<reason>`:\n" + "\n".join(problems)


# --- the warehouse (DESIGN §10) ---------------------------------------------------------------


def warehouse_env_vars_read_by_dagster() -> set[str]:
    """The `ELT_WAREHOUSE_*` names the Dagster side (elt_assets/lib, elt_assets/defs) reads."""
    found: set[str] = set()
    for folder in DAGSTER_SOURCES:
        for path in sorted(folder.rglob("*.py")):
            found |= set(re.findall(r"[\"'](ELT_WAREHOUSE_[A-Z_]+)[\"']", path.read_text("utf-8")))
    return found


def warehouse_instance() -> dict[str, Any]:
    return resources(module_dir("warehouse"))["aws_db_instance.this"]


def test_the_warehouse_env_vars_the_dagster_side_reads_are_outputs():
    outputs = blocks(DEV, "output")
    read = warehouse_env_vars_read_by_dagster()
    missing = (WAREHOUSE_ENV_VARS | read) - set(outputs)
    assert not missing, f"envs/dev outputs lack {sorted(missing)} (DESIGN §10 / elt_assets reads)"
    # Once the Dagster side reads the warehouse from the environment, it uses DESIGN's names.
    if read:
        assert read >= WAREHOUSE_ENV_VARS, f"elt_assets reads {sorted(read)}"
    module_outputs = blocks(module_dir("warehouse"), "output")
    secret = outputs["ELT_WAREHOUSE_SECRET_ARN"]["value"]
    assert secret == "${one(module.warehouse[*].master_secret_arn)}", secret
    assert module_outputs["master_secret_arn"]["value"] == (
        "${aws_db_instance.this.master_user_secret[0].secret_arn}"
    )
    # The Dagster policy reads the very secret that is exported.
    assert module_call("dagster_iam")["warehouse_secret_arn"] == secret


def test_the_warehouse_url_carries_no_password_and_takes_it_from_the_secret():
    from elt_assets.lib.warehouse import warehouse_url

    value = blocks(DEV, "output")["ELT_WAREHOUSE_URL"]["value"]
    template = re.fullmatch(r"\$\{one\(\[for w in module\.warehouse : \"(.*)\"\]\)\}", value)
    assert template, value
    pieces = re.findall(r"\$\{w\.([a-z_]+)\}", template.group(1))
    module_outputs = blocks(module_dir("warehouse"), "output")
    assert set(pieces) <= set(module_outputs), pieces
    assert "password" not in value.lower()
    # What Terraform exports, filled in, is a URL the Dagster side completes from the secret.
    fake = {
        "master_username": "elt_admin",
        "endpoint": "db.example.internal",
        "port": "5432",
        "db_name": "warehouse",
    }
    url = re.sub(r"\$\{w\.([a-z_]+)\}", lambda m: fake[m.group(1)], template.group(1))
    assert url.startswith("postgresql://elt_admin@db.example.internal:5432/warehouse"), url

    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-x"

    class Secrets:
        def get_secret_value(self, SecretId):
            assert SecretId == arn
            return {"SecretString": '{"username": "elt_admin", "password": "p@ss"}'}

    environ = {"ELT_WAREHOUSE_URL": url, "ELT_WAREHOUSE_SECRET_ARN": arn}
    full = warehouse_url(environ, Secrets())
    assert full.startswith("postgresql://elt_admin:p%40ss@db.example.internal:5432/warehouse"), full


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_warehouse_is_encrypted_private_protected_and_backed_up(scenario):
    call = module_call("warehouse")
    assert call["count"] == "${var.warehouse_enabled ? 1 : 0}"
    assert call["kms_key_arn"] == "${module.kms.key_arn}"
    scope = module_scope("warehouse", scenario)
    db = warehouse_instance()
    assert db["engine"] == "postgres"
    # Encrypted at rest, and every other copy of its data, with the project's key.
    assert db["storage_encrypted"] is True
    for attribute in (
        "kms_key_id",
        "master_user_secret_kms_key_id",
        "performance_insights_kms_key_id",
    ):
        assert db[attribute] == "${var.kms_key_arn}", attribute
    # RDS generates the password into Secrets Manager: none in state, tfvars or outputs.
    assert db["manage_master_user_password"] is True
    assert not {"password", "password_wo"} & set(db), "a master password is set in Terraform"
    assert db["publicly_accessible"] is False
    assert db["iam_database_authentication_enabled"] is True
    assert db["performance_insights_enabled"] is True
    assert db["auto_minor_version_upgrade"] is True
    assert db["copy_tags_to_snapshot"] is True
    assert "postgresql" in scope.resolve(db["enabled_cloudwatch_logs_exports"])
    # Deletion protection is a variable, on unless an environment turns it off.
    assert db["deletion_protection"] == "${var.deletion_protection}"
    assert variable_values(module_dir("warehouse"))["deletion_protection"] is True
    assert scope.variables["deletion_protection"] is True, scenario
    assert db["skip_final_snapshot"] == "${var.skip_final_snapshot}"
    assert scope.variables["skip_final_snapshot"] is False, scenario
    assert "${var.identifier}-final" in db["final_snapshot_identifier"]
    retention = scope.resolve(db["backup_retention_period"])
    assert isinstance(retention, int) and retention >= 1, retention
    validation = one(
        blocks(module_dir("warehouse"), "variable")["backup_retention_days"]["validation"]
    )
    assert "var.backup_retention_days >= 1" in validation["condition"]
    # TLS only: the parameter group forces it.
    group = resources(module_dir("warehouse"))["aws_db_parameter_group.this"]
    assert db["parameter_group_name"] == "${aws_db_parameter_group.this.name}"
    assert {p["name"]: p["value"] for p in group["parameter"]}["rds.force_ssl"] == "1"


def test_warehouse_accepts_postgres_only_from_the_dagster_security_group():
    found = resources(module_dir("warehouse"))
    db = warehouse_instance()
    scope = module_scope("warehouse", "defaults")
    assert scope.resolve(db["port"]) == POSTGRES_PORT
    assert db["vpc_security_group_ids"] == ["${aws_security_group.this.id}"]
    assert db["db_subnet_group_name"] == "${aws_db_subnet_group.this.name}"
    assert found["aws_db_subnet_group.this"]["subnet_ids"] == "${var.subnet_ids}"
    group = found["aws_security_group.this"]
    assert "ingress" not in group and "egress" not in group, "rules belong in their own resources"
    rules = {
        name: body
        for name, body in found.items()
        if name.startswith(("aws_vpc_security_group_ingress_rule.", "aws_security_group_rule."))
    }
    assert list(rules) == ["aws_vpc_security_group_ingress_rule.this"], sorted(rules)
    rule = rules["aws_vpc_security_group_ingress_rule.this"]
    assert rule["security_group_id"] == "${aws_security_group.this.id}"
    assert rule["referenced_security_group_id"] == "${var.client_security_group_id}"
    assert rule["ip_protocol"] == "tcp"
    assert scope.resolve(rule["from_port"]) == scope.resolve(rule["to_port"]) == POSTGRES_PORT
    assert not {"cidr_ipv4", "cidr_ipv6", "prefix_list_id"} & set(rule), rule
    assert not any(n.startswith("aws_vpc_security_group_egress_rule.") for n in found)
    call = module_call("warehouse")
    assert call["client_security_group_id"] == "${var.warehouse_client_security_group_id}"
    assert call["subnet_ids"] == "${var.warehouse_subnet_ids}"
    # No made-up network ids: dev supplies none until real ones are set.
    values = variable_values(DEV, DEV / "dev.tfvars")
    assert values["warehouse_subnet_ids"] == [] and values["warehouse_vpc_id"] is None
    assert values["warehouse_client_security_group_id"] is None


def test_dagster_reads_exactly_the_warehouse_secret():
    document = resources(MODULES / "dagster_iam", "data")["aws_iam_policy_document.this"]
    conditional = [one(d["statement"]) for d in document.get("dynamic", [])]
    statements = [*document["statement"], *(c for d in conditional for c in d["content"])]
    secret_statements = [
        s for s in statements if any(a.startswith("secretsmanager:") for a in s["actions"])
    ]
    assert len(secret_statements) == 1, secret_statements
    (secret,) = secret_statements
    assert secret["actions"] == ["secretsmanager:GetSecretValue"]
    assert secret["resources"] == ["${statement.value}"]
    for_each = next(d["for_each"] for d in conditional if secret in d["content"])
    assert for_each == "${var.warehouse_secret_arn == null ? [] : [var.warehouse_secret_arn]}"
    # Decrypting the secret: only through Secrets Manager, only for this secret.
    via = [
        s
        for s in statements
        if any(c["variable"] == "kms:ViaService" for c in s.get("condition", []))
    ]
    assert len(via) == 1, via
    (decrypt,) = via
    assert decrypt["actions"] == ["kms:Decrypt"]
    assert decrypt["resources"] == ["${var.kms_key_arn}"]
    conditions = {c["variable"]: (c["test"], c["values"]) for c in decrypt["condition"]}
    assert conditions["kms:ViaService"] == (
        "StringEquals",
        ["secretsmanager.${data.aws_region.current.name}.amazonaws.com"],
    )
    assert conditions["kms:EncryptionContext:SecretARN"] == ("StringEquals", ["${statement.value}"])
    # Nowhere else in the Terraform does anything read secrets.
    elsewhere = [
        where
        for where, s in iam_statements()
        if s is not secret and any(a.startswith("secretsmanager:") for a in s["actions"])
    ]
    assert not elsewhere, elsewhere


def test_the_key_policy_lets_logs_encrypt_the_warehouse_log_groups():
    prefixes = module_call("kms")["log_group_prefixes"]
    assert "/aws/rds/instance/${local.warehouse_identifier}/" in prefixes, prefixes
    assert module_call("warehouse")["identifier"] == "${local.warehouse_identifier}"
    groups = resources(module_dir("warehouse"))["aws_cloudwatch_log_group.this"]
    assert groups["name"] == "/aws/rds/instance/${var.identifier}/${each.key}"
    assert groups["kms_key_id"] == "${var.kms_key_arn}"
    db = warehouse_instance()
    assert "${aws_cloudwatch_log_group.this}" in db["depends_on"]


# --- gold tables (DESIGN §9) ------------------------------------------------------------------


def test_gold_tables_are_the_models_with_their_output_schemas():
    from elt_assets.lib.models import load_models, output_schema

    registry = ContractRegistry.load()
    models = load_models(registry=registry)
    declared = {
        name: [(c["name"], c["type"]) for c in columns]
        for name, columns in variable_values(DEV)["gold_tables"].items()
    }
    sql_models = {m.name: m for m in models if m.kind == "sql"}
    assert set(declared) == set(sql_models), (
        f"gold_tables {sorted(declared)} != SQL models {sorted(sql_models)}"
    )
    for name, model in sql_models.items():
        schema = output_schema(model, registry, models)
        assert declared[name] == [(f.name, hive_type(f.type)) for f in schema], name
    # The `<dataset>_current` tables come from the contracts: silver's columns, lineage included.
    mapping = hcl_type_mapping(blocks(DEV, "locals")["glue_datasets"])
    lineage = [
        (c["name"], c["type"]) for c in blocks(MODULES / "catalog", "locals")["lineage_columns"]
    ]
    current = {m.name: m for m in models if m.kind == "current"}
    rule = blocks(DEV, "locals")["current_datasets"]
    assert 'try(c.kind, "dataset") == "dataset"' in rule and "c.primary_key" in rule, rule
    by_rule = {
        c.name for c in registry if c.kind == "dataset" and c.primary_key
    }  # what the HCL rule above selects
    assert {f"{d}_current" for d in by_rule} == set(current), sorted(current)
    gold_local = blocks(MODULES / "catalog", "locals")["gold_tables"]
    assert '"${name}_current" => concat(var.datasets[name], local.lineage_columns)' in gold_local, (
        gold_local
    )
    for name, model in current.items():
        contract = registry[model.dataset or ""]
        columns = [(c.name, mapping(c.type)) for c in contract.columns]
        if contract.extra_fields == "keep":
            columns.append((EXTRA_FIELD.name, "string"))
        schema = output_schema(model, registry, models)
        assert columns + lineage == [(f.name, hive_type(f.type)) for f in schema], name
    assert module_call("catalog")["current_datasets"] == "${local.current_datasets}"
    assert module_call("catalog")["gold_tables"] == "${var.gold_tables}"


def test_gold_tables_read_the_models_parquet_by_day():
    from elt_assets.lib.models import gold_model_key

    table = resources(MODULES / "catalog")["aws_glue_catalog_table.gold"]
    assert table["for_each"] == "${local.gold_tables}"
    assert table["database_name"] == "${aws_glue_catalog_database.gold.name}"
    prefix = gold_model_key("NAME", "DAY").split("/dt=")[0].replace("NAME", "${each.key}")
    storage = one(table["storage_descriptor"])
    assert storage["location"] == "s3://${var.silver_bucket}/" + prefix + "/"
    parameters = table["parameters"]
    assert parameters["storage.location.template"] == (
        "s3://${var.silver_bucket}/" + prefix + "/dt=$${dt}/"
    )
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.dt.type"] == "date"
    assert parameters["projection.dt.format"] == "yyyy-MM-dd"
    assert [k["name"] for k in table["partition_keys"]] == ["dt"]
    assert one(storage["ser_de_info"])["serialization_library"].endswith("ParquetHiveSerDe")
    # dt is the partition key, read from the path: a column of that name would clash.
    for name, columns in variable_values(DEV)["gold_tables"].items():
        assert "dt" not in [c["name"] for c in columns], name


def test_partition_ready_events_go_to_an_encrypted_topic_with_an_example_consumer():
    topic = resources(module_dir("events"))["aws_sns_topic.this"]
    assert topic["kms_master_key_id"] == "${var.kms_key_arn}"
    assert module_call("events")["kms_key_arn"] == "${module.kms.key_arn}"
    subscription = resources(module_dir("events"))["aws_sns_topic_subscription.consumer"]
    assert subscription["protocol"] == "sqs" and subscription["raw_message_delivery"] is True
    queue = resources(module_dir("events"))["aws_sqs_queue.consumer"]
    assert queue["sqs_managed_sse_enabled"] is True
    policy = resources(module_dir("events"), "data")["aws_iam_policy_document.consumer"]
    (statement,) = policy["statement"]
    assert statement["actions"] == ["sqs:SendMessage"]
    (condition,) = statement["condition"]
    assert condition["values"] == ["${aws_sns_topic.this.arn}"]  # only this topic may send


def test_the_topics_dagster_publishes_to_are_the_outputs_its_code_reads():
    outputs = blocks(DEV, "output")
    assert outputs["ELT_EVENTS_TOPIC_ARN"]["value"] == "${module.events.topic_arn}"
    # Failed gates alert the topic the CloudWatch alarms already notify.
    assert outputs["ELT_ALERTS_TOPIC_ARN"]["value"] == "${module.observability.topic_arn}"
    call = module_call("dagster_iam")
    assert call["events_topic_arn"] == "${module.events.topic_arn}"
    assert call["alerts_topic_arn"] == "${module.observability.topic_arn}"
    assert config.ENV_EVENTS_TOPIC_ARN == "ELT_EVENTS_TOPIC_ARN"
    assert config.ENV_ALERTS_TOPIC_ARN == "ELT_ALERTS_TOPIC_ARN"


def test_firehose_delivers_each_stream_where_the_hot_path_reads_it():
    from lambda_bridge.contracts import ContractRegistry
    from lambda_bridge.keys import dt_from_key, format_of_key

    registry = ContractRegistry.load()
    streamed = blocks(DEV, "variable")["stream_datasets"]["default"]
    assert streamed and all(d in registry for d in streamed)
    local_ = blocks(module_dir("stream"), "locals")
    firehose = resources(module_dir("stream"))["aws_kinesis_firehose_delivery_stream.this"]
    (s3,) = firehose["extended_s3_configuration"]
    assert s3["prefix"] == "${local.prefix}"
    assert local_["prefix"] == "bronze/${var.dataset}/dt=!{timestamp:yyyy-MM-dd}/"
    for dataset in streamed:
        # An object Firehose would write: the contract's prefix, a dt= segment, gzip JSONL.
        key = (
            local_["prefix"]
            .replace("${var.dataset}", dataset)
            .replace("!{timestamp:yyyy-MM-dd}", "2026-01-05")
            + "elt-dev-stream-1-2026-01-05-00-00-00-uuid"
            + s3["file_extension"]
        )
        assert registry.for_key(key).name == dataset
        assert dt_from_key(key) == "2026-01-05" and format_of_key(key) == "jsonl"
    assert s3["compression_format"] == "GZIP" and s3["file_extension"].endswith(".gz")
    # Undeliverable records land outside bronze/, which the bronze notification watches.
    assert not local_["error_prefix"].startswith("bronze/")
    assert s3["error_output_prefix"] == "${local.error_prefix}"
    assert s3["kms_key_arn"] == "${var.kms_key_arn}"
    call = module_call("stream")
    assert call["for_each"] == "${toset(var.stream_datasets)}"
    assert call["buffering_size_mb"] == "${var.stream_buffering_size_mb}"
    assert call["buffering_interval_seconds"] == "${var.stream_buffering_interval_seconds}"


def test_the_stream_is_encrypted_and_firehose_reads_only_it():
    stream = resources(module_dir("stream"))["aws_kinesis_stream.this"]
    assert stream["encryption_type"] == "KMS" and stream["kms_key_id"] == "${var.kms_key_arn}"
    policy = resources(module_dir("stream"), "data")["aws_iam_policy_document.firehose"]
    grants = allowed(policy["statement"])
    kinesis = {a for a in grants if a.startswith("kinesis:")}
    assert kinesis == {"kinesis:DescribeStream", "kinesis:GetRecords", "kinesis:GetShardIterator",
                       "kinesis:ListShards"}  # fmt: skip
    assert all(grants[a] == {"${aws_kinesis_stream.this.arn}"} for a in kinesis)
    assert grants["s3:PutObject"] == {
        "${var.bronze_bucket_arn}/bronze/${var.dataset}/*",
        "${var.bronze_bucket_arn}/${var.error_prefix_root}${var.dataset}/*",
    }
    assert module_call("kms")["log_group_prefixes"][-1] == (
        "/aws/kinesisfirehose/${var.name_prefix}-"
    )


def test_the_streams_output_names_what_elt_stream_put_reads():
    from elt_assets.cli.local.firehose import stream_name

    outputs = blocks(DEV, "output")
    assert outputs["ELT_STREAMS"]["value"] == (
        '${join(",", [for dataset, s in module.stream : "${dataset}=${s.stream_name}"])}'
    )
    assert module_call("stream")["name"] == "${var.name_prefix}-${each.key}-stream"
    # The embedded stack names its streams the same way.
    assert stream_name("elt-dev", "tracking_events") == "elt-dev-tracking_events-stream"
    assert config.Settings(streams="a=s1,b=s2").stream_names() == {"a": "s1", "b": "s2"}
