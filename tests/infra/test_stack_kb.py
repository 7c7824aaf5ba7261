"""The stack with the knowledge base on (``prod.yaml``: ``knowledge_base.enabled``, no existing id):
RunbookKnowledgeBase wired to the stack's key, agent and alias. Synthesized in the same cdktn App as
dev (see conftest), so this costs no extra provider-binding load."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from opsagent_infra.config import KnowledgeBaseConfig, load_config
from opsagent_infra.knowledge_base import ASSOCIATION_DESCRIPTION
from opsagent_infra.packaging import VECTOR_INDEX
from opsagent_infra.policy_scan import StackPolicies, scan

KB_ENV = "prod"  # = conftest.KB_ENV (checked below)
CONFIG = load_config(KB_ENV)
RUNBOOKS = Path(__file__).resolve().parents[2] / "knowledge_base" / "runbooks"
TOKEN = re.compile(r"\$\{[^}]+\}")


def ref(rtype: str, name: str, attr: str) -> str:
    return "${" + f"{rtype}.{name}.{attr}" + "}"


def one(resources: dict, rtype: str) -> tuple[str, dict]:
    items = resources.get(rtype, {})
    assert len(items) == 1, f"expected one {rtype}, found {sorted(items)}"
    return next(iter(items.items()))


def address(resources: dict, rtype: str) -> str:
    return f"{rtype}.{one(resources, rtype)[0]}"


def key_arn(resources: dict) -> str:
    return ref("aws_kms_key", one(resources, "aws_kms_key")[0], "arn")


def test_the_kb_environment_creates_the_knowledge_base(kb_synth_result):
    assert kb_synth_result.stack_id == f"opsagent-{KB_ENV}"
    kb = CONFIG.knowledge_base
    assert kb.enabled and kb.knowledge_base_id is None and kb.creates
    assert not load_config("dev").knowledge_base.enabled, "dev stays without the (costly) knowledge base"


def test_dev_has_no_knowledge_base(resources):
    kb_types = {
        "aws_s3_bucket",
        "aws_opensearchserverless_collection",
        "aws_lambda_invocation",
        "aws_bedrockagent_knowledge_base",
        "aws_bedrockagent_agent_knowledge_base_association",
    }
    assert not kb_types & set(resources)
    _, alias = one(resources, "aws_bedrockagent_agent_alias")
    assert " kb " not in alias["description"]


# --- documents bucket --------------------------------------------------------------------------------
def test_documents_bucket_is_hardened_and_kept_in_prod(kb_resources):
    bucket_name, bucket = one(kb_resources, "aws_s3_bucket")
    assert bucket["force_destroy"] is (not CONFIG.data.deletion_protection) is False
    assert bucket["bucket_prefix"] == f"{CONFIG.name_prefix}-kb-"
    bucket_id = ref("aws_s3_bucket", bucket_name, "id")
    _, versioning = one(kb_resources, "aws_s3_bucket_versioning")
    assert versioning["bucket"] == bucket_id and versioning["versioning_configuration"]["status"] == "Enabled"
    _, sse = one(kb_resources, "aws_s3_bucket_server_side_encryption_configuration")
    assert sse["rule"][0]["apply_server_side_encryption_by_default"] == {
        "sse_algorithm": "aws:kms",
        "kms_master_key_id": key_arn(kb_resources),  # the stack's CMK
    }
    _, pab = one(kb_resources, "aws_s3_bucket_public_access_block")
    assert pab["bucket"] == bucket_id and pab["block_public_policy"] is pab["restrict_public_buckets"] is True
    _, policy = one(kb_resources, "aws_s3_bucket_policy")
    statements = json.loads(policy["policy"])["Statement"]
    assert {s["Sid"] for s in statements} == {"DenyInsecureTransport", "DenyOldTls"}
    assert all(s["Effect"] == "Deny" for s in statements)


def test_every_runbook_is_uploaded_with_the_stack_key(kb_resources, kb_synth_result):
    objects = kb_resources["aws_s3_object"].values()
    files = sorted(
        p.name for p in RUNBOOKS.iterdir() if p.suffix == ".md" or p.name.endswith(".metadata.json")
    )
    assert sorted(o["key"] for o in objects) == [f"runbooks/{n}" for n in files]
    for obj in objects:
        assert obj["kms_key_id"] == key_arn(kb_resources)
        local = RUNBOOKS / obj["key"].removeprefix("runbooks/")
        assert obj["source_hash"] == hashlib.md5(local.read_bytes()).hexdigest()
        assert (kb_synth_result.tf_json.parent / obj["source"]).read_bytes() == local.read_bytes()


# --- OpenSearch Serverless -----------------------------------------------------------------------------
def test_collection_policies_and_standby_replicas(kb_resources):
    coll_name, coll = one(kb_resources, "aws_opensearchserverless_collection")
    assert coll["type"] == "VECTORSEARCH" and coll["name"] == "opsagent-prod-kb"
    assert coll["standby_replicas"] == ("ENABLED" if CONFIG.knowledge_base.standby_replicas else "DISABLED")
    policies = {p["type"]: p for p in kb_resources["aws_opensearchserverless_security_policy"].values()}
    assert sorted(policies) == ["encryption", "network"]
    encryption = json.loads(policies["encryption"]["policy"])
    assert encryption["AWSOwnedKey"] is False and encryption["KmsARN"] == key_arn(kb_resources)
    [network] = json.loads(policies["network"]["policy"])
    assert network["AllowFromPublic"] is not CONFIG.knowledge_base.private_network
    security = {
        f"aws_opensearchserverless_security_policy.{n}"
        for n in kb_resources["aws_opensearchserverless_security_policy"]
    }
    assert security <= set(coll["depends_on"])
    _, access = one(kb_resources, "aws_opensearchserverless_access_policy")
    principals = sorted(p for entry in json.loads(access["policy"]) for p in entry["Principal"])
    roles = {n for n in kb_resources["aws_iam_role"] if n.startswith("knowledge-base_")}
    assert principals == sorted(ref("aws_iam_role", n, "arn") for n in roles) and len(roles) == 2


# --- index bootstrap --------------------------------------------------------------------------------------
def test_index_bootstrap_uses_the_built_vector_index_zip(kb_resources, kb_synth_result, manifest):
    built = manifest["functions"][VECTOR_INDEX]
    fns = {b["function_name"]: (n, b) for n, b in kb_resources["aws_lambda_function"].items()}
    fn_name, fn = fns[f"{CONFIG.name_prefix}-kb-index"]
    assert fn["handler"] == built["handler"] == "opsagent.vector_index.handler.lambda_handler"
    assert (fn["runtime"], fn["architectures"]) == (manifest["runtime"], [manifest["architecture"]])
    assert fn["source_code_hash"] == built["base64sha256"]
    asset = kb_synth_result.tf_json.parent / fn["filename"]
    assert base64.b64encode(hashlib.sha256(asset.read_bytes()).digest()).decode() == built["base64sha256"]
    assert fn["kms_key_arn"] == key_arn(kb_resources) and fn["tracing_config"] == {"mode": "Active"}
    assert "vpc_config" not in fn  # prod.yaml: public collection endpoint
    logs = {b["name"]: b for b in kb_resources["aws_cloudwatch_log_group"].values()}
    log_group = logs[f"/aws/lambda/{CONFIG.name_prefix}-kb-index"]
    assert log_group["retention_in_days"] == CONFIG.log_retention_days
    assert log_group["kms_key_id"] == key_arn(kb_resources)

    _, invocation = one(kb_resources, "aws_lambda_invocation")
    assert invocation["function_name"] == ref("aws_lambda_function", fn_name, "function_name")
    payload = json.loads(invocation["input"])
    coll_name, _ = one(kb_resources, "aws_opensearchserverless_collection")
    assert payload["endpoint"] == ref("aws_opensearchserverless_collection", coll_name, "collection_endpoint")
    assert payload["region"] == CONFIG.region
    assert set(invocation["triggers"]) == {"index_definition", "collection_id"}
    deps = set(invocation["depends_on"])
    assert {
        address(kb_resources, "aws_opensearchserverless_collection"),
        address(kb_resources, "aws_opensearchserverless_access_policy"),
        f"aws_lambda_function.{fn_name}",
    } <= deps


# --- knowledge base, data source, association ------------------------------------------------------------
def test_knowledge_base_and_data_source(kb_resources):
    kb_name, kb = one(kb_resources, "aws_bedrockagent_knowledge_base")
    assert kb["name"] == f"{CONFIG.name_prefix}-runbooks"
    [storage] = kb["storage_configuration"]
    coll_name, _ = one(kb_resources, "aws_opensearchserverless_collection")
    assert storage["opensearch_serverless_configuration"][0]["collection_arn"] == ref(
        "aws_opensearchserverless_collection", coll_name, "arn"
    )
    embedding = kb["knowledge_base_configuration"][0]["vector_knowledge_base_configuration"][0]
    assert re.fullmatch(  # the stack's partition data source, not a second one inside the construct
        rf"arn:\$\{{data\.aws_partition\.partition\.partition\}}:bedrock:{CONFIG.region}::foundation-model/"
        r"amazon\.titan-embed-text-v2:0",
        embedding["embedding_model_arn"],
    ), embedding["embedding_model_arn"]
    assert address(kb_resources, "aws_lambda_invocation") in kb["depends_on"]
    _, ds = one(kb_resources, "aws_bedrockagent_data_source")
    assert ds["knowledge_base_id"] == ref("aws_bedrockagent_knowledge_base", kb_name, "id")
    s3 = ds["data_source_configuration"][0]["s3_configuration"][0]
    assert s3["bucket_arn"] == ref("aws_s3_bucket", one(kb_resources, "aws_s3_bucket")[0], "arn")
    assert s3["bucket_owner_account_id"] == CONFIG.account_id
    assert ds["server_side_encryption_configuration"] == [{"kms_key_arn": key_arn(kb_resources)}]


def test_association_links_this_agent_draft_to_the_created_knowledge_base(kb_resources):
    agent_name, _ = one(kb_resources, "aws_bedrockagent_agent")
    kb_name, _ = one(kb_resources, "aws_bedrockagent_knowledge_base")
    _, assoc = one(kb_resources, "aws_bedrockagent_agent_knowledge_base_association")
    assert assoc["agent_id"] == ref("aws_bedrockagent_agent", agent_name, "agent_id")
    assert assoc["agent_version"] == "DRAFT" and assoc["knowledge_base_state"] == "ENABLED"
    assert assoc["knowledge_base_id"] == ref("aws_bedrockagent_knowledge_base", kb_name, "id")
    assert assoc["description"] == (CONFIG.knowledge_base.description or ASSOCIATION_DESCRIPTION)


def test_agent_role_may_retrieve_from_this_knowledge_base_only(kb_stack, kb_resources):
    _, agent = one(kb_resources, "aws_bedrockagent_agent")
    role = re.fullmatch(r"\$\{aws_iam_role\.(.+)\.arn\}", agent["agent_resource_role_arn"]).group(1)
    acts = StackPolicies.from_tf(kb_stack).actions_of(role)
    kb_name, _ = one(kb_resources, "aws_bedrockagent_knowledge_base")
    assert acts["bedrock:Retrieve"] == [ref("aws_bedrockagent_knowledge_base", kb_name, "arn")]
    assert sorted(a for a in acts if a.startswith("bedrock:")) == [
        "bedrock:ApplyGuardrail",
        "bedrock:GetGuardrail",
        "bedrock:GetInferenceProfile",
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
        "bedrock:Retrieve",
    ]
    # prod.yaml names the eu. geo profile: InvokeModel on the profile and on each EU model it routes to
    assert sorted(acts["bedrock:InvokeModel"]) == sorted(
        [*CONFIG.model.underlying_model_arns, *acts["bedrock:GetInferenceProfile"]]
    )
    [profile_arn] = acts["bedrock:GetInferenceProfile"]
    assert profile_arn.endswith(f":inference-profile/{CONFIG.model.id}")
    assert all(":bedrock:eu-" in a for a in CONFIG.model.underlying_model_arns)
    # one inline policy (the Retrieve grant joined it) and the agent waits for it
    role_policies = [
        n
        for n, p in kb_resources["aws_iam_role_policy"].items()
        if p["role"] == ref("aws_iam_role", role, "id")
    ]
    assert len(role_policies) == 1
    assert f"aws_iam_role_policy.{role_policies[0]}" in agent["depends_on"]


def test_alias_waits_for_the_association_and_carries_the_knowledge_base_id(kb_resources, kb_synth_result):
    _, alias = one(kb_resources, "aws_bedrockagent_agent_alias")
    kb_name, _ = one(kb_resources, "aws_bedrockagent_knowledge_base")
    assert "routing_configuration" not in alias
    deps = set(alias["depends_on"])
    assert address(kb_resources, "aws_bedrockagent_agent_knowledge_base_association") in deps
    assert address(kb_resources, "aws_bedrockagent_agent") in deps
    assert {
        f"aws_bedrockagent_agent_action_group.{n}"
        for n in kb_resources["aws_bedrockagent_agent_action_group"]
    } <= deps
    # the created knowledge base's id is only known at apply: Terraform writes it into the description,
    # so a replaced knowledge base (new id) changes the description -> UpdateAgentAlias -> new version
    kb_id = ref("aws_bedrockagent_knowledge_base", kb_name, "id")
    assert alias["description"].startswith(f"release {kb_synth_result.release} kb {kb_id} ")
    assert len(TOKEN.sub("K" * 10, alias["description"])) <= 200  # Bedrock's limit, id resolved


def test_release_fingerprint_differs_with_the_knowledge_base(kb_synth_result, synth_result):
    assert kb_synth_result.release and kb_synth_result.release != synth_result.release


def test_outputs_for_kb_sync(kb_stack, kb_resources):
    outputs = kb_stack["output"]
    kb_name, _ = one(kb_resources, "aws_bedrockagent_knowledge_base")
    assert outputs["knowledge_base_id"]["value"] == ref("aws_bedrockagent_knowledge_base", kb_name, "id")
    assert {
        "knowledge_base_data_source_id",
        "knowledge_base_bucket",
        "knowledge_base_collection_endpoint",
    } <= set(outputs)
    assert {"agent_id", "agent_alias_id", "agent_release", "kms_key_arn"} <= set(outputs)


# --- whole-stack gates on the KB-enabled stack ----------------------------------------------------------
def test_kb_stack_has_no_policy_findings(kb_stack):
    findings = scan(kb_stack)
    assert findings == [], "\n".join(map(str, findings))


def test_construct_reuses_the_stack_partition_region_and_account(kb_stack):
    data = kb_stack.get("data", {})
    assert list(data.get("aws_partition", {})) == ["partition"]  # the stack's own
    assert "aws_region" not in data  # config.region passed in
    assert "aws_caller_identity" not in data  # prod.yaml sets account_id


def test_kb_stack_log_groups_have_retention_and_the_cmk(kb_resources):
    for name, lg in kb_resources["aws_cloudwatch_log_group"].items():
        assert lg["retention_in_days"] == CONFIG.log_retention_days, name
        assert lg["kms_key_id"] == key_arn(kb_resources), name


def test_prod_backend_is_s3_with_native_locking(kb_stack):
    backend = kb_stack["terraform"]["backend"]["s3"]
    assert backend == {
        "bucket": CONFIG.backend.bucket,
        "key": CONFIG.backend.key,
        "region": CONFIG.backend.region,
        "encrypt": True,
        "use_lockfile": True,
    }


# --- an existing knowledge base (no synth: the constructed stack is inspected) --------------------------
@pytest.fixture(scope="module")
def existing_kb_stacks(kb_synth_result, manifest, tmp_path_factory):
    """Two stacks that associate an existing knowledge base (ids differ), built in a throwaway App."""
    from opsagent_infra.stack import OpsAgentStack
    from opsagent_infra.synth import new_app

    app = new_app(tmp_path_factory.mktemp("unused"))
    stacks = {}
    for kb_id in ("KB12345678", "KB87654321"):
        config = CONFIG.model_copy(
            update={"knowledge_base": KnowledgeBaseConfig(enabled=True, knowledge_base_id=kb_id)}
        )
        stacks[kb_id] = OpsAgentStack(app, f"existing-{kb_id}", config=config, manifest=manifest)
    return stacks


def test_an_existing_knowledge_base_is_associated_not_created(existing_kb_stacks):
    stack = existing_kb_stacks["KB12345678"]
    assert stack.knowledge_base is None  # no bucket, collection, bootstrap, knowledge base
    assert stack.agent.kb_association is not None and stack.agent.knowledge_base_id == "KB12345678"
    [retrieve] = [s for s in stack.agent.role.statements if s.sid == "RetrieveRunbooks"]
    assert retrieve.actions == ("bedrock:Retrieve",)
    assert retrieve.resources[0].endswith(
        f":bedrock:{CONFIG.region}:{CONFIG.account_id}:knowledge-base/KB12345678"
    )
    assert "kb KB12345678 " in stack.agent.alias_description()


def test_an_existing_knowledge_base_id_is_in_the_release_fingerprint(existing_kb_stacks, kb_synth_result):
    releases = {kb_id: s.agent.release for kb_id, s in existing_kb_stacks.items()}
    assert len(set(releases.values())) == 2, "another knowledge base must be another release"
    assert kb_synth_result.release not in releases.values()


# --- apply order (terraform validate/plan cannot run here) --------------------------------------------
REFERENCE = re.compile(r"\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)")


def dependency_graph(tf: dict) -> dict[str, set[str]]:
    """address -> addresses it references (interpolations + depends_on), resources and data sources."""
    blocks = {
        (f"data.{t}.{n}" if kind == "data" else f"{t}.{n}"): block
        for kind in ("resource", "data")
        for t, named in tf.get(kind, {}).items()
        for n, block in named.items()
    }
    graph = {}
    for addr, block in blocks.items():
        text = json.dumps({k: v for k, v in block.items() if k not in ("//", "depends_on")})
        refs = {f"{'data.' if d else ''}{t}.{n}" for d, t, n in REFERENCE.findall(text)}
        refs |= set(block.get("depends_on", []))
        graph[addr] = {r for r in refs if r in blocks and r != addr}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("env", ["dev", KB_ENV])
def test_dependency_graph_is_acyclic(synth_results, env):
    tf = json.loads(synth_results[env].tf_json.read_text())
    graph = dependency_graph(tf)
    assert len(graph) > 50
    assert find_cycle(graph) is None, f"dependency cycle: {' -> '.join(find_cycle(graph))}"


def test_apply_order_of_the_knowledge_base(kb_stack, kb_resources):
    """Bootstrap after collection + policies, KB after the index, association after KB and agent, alias
    after the association: transitively, through references and depends_on."""
    graph = dependency_graph(kb_stack)

    def after(addr: str) -> set[str]:
        seen, todo = set(), [addr]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    alias = address(kb_resources, "aws_bedrockagent_agent_alias")
    assert {
        address(kb_resources, t)
        for t in (
            "aws_bedrockagent_agent_knowledge_base_association",
            "aws_bedrockagent_knowledge_base",
            "aws_lambda_invocation",
            "aws_opensearchserverless_collection",
            "aws_opensearchserverless_access_policy",
            "aws_bedrockagent_agent",
        )
    } <= after(alias)
    kb = address(kb_resources, "aws_bedrockagent_knowledge_base")
    assert address(kb_resources, "aws_lambda_invocation") in after(kb)
    assert address(kb_resources, "aws_bedrockagent_agent_alias") not in after(kb)
