"""Synth assertions for ``opsagent_infra.knowledge_base.RunbookKnowledgeBase`` on a tiny stack that
holds only this construct (plus the AWS provider): bucket hardening, uploads, OpenSearch Serverless
policies and collection, the index bootstrap invocation, the knowledge base, its data source and the
agent association. The IAM of the construct must also pass the stack's offline policy scanner."""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "infra") not in sys.path:  # the infra package lives in infra/ (not on pytest's pythonpath)
    sys.path.insert(0, str(ROOT / "infra"))

RUNBOOKS = ROOT / "knowledge_base" / "runbooks"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
VPCE = "vpce-0123456789abcdef0"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    """Two stacks in one app (the provider bindings load once): public + agent, private + no agent."""
    from cdktn import TerraformStack
    from cdktn_aws.provider import AwsProvider

    from opsagent_infra.knowledge_base import RunbookKnowledgeBase
    from opsagent_infra.synth import new_app  # first: jsii must start the pinned Node

    tmp = tmp_path_factory.mktemp("kb-synth")
    zip_path = tmp / "vector_index.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("opsagent/vector_index/handler.py", "def lambda_handler(e, c):\n    return {}\n")
    app = new_app(tmp / "out")
    constructs = {}

    public = TerraformStack(app, "kb-public")
    AwsProvider(public, "aws", region="us-east-1")
    constructs["public"] = RunbookKnowledgeBase(
        public,
        "kb",
        name_prefix="opsagent-dev",
        kms_key_arn=KEY_ARN,
        kms_key_id=KEY_ID,
        runbooks_path=RUNBOOKS,
        index_function_zip=zip_path,
        agent_id="AGENT12345",
        tags={"project": "opsagent", "environment": "dev"},
        region="us-east-1",
        account_id="123456789012",
        partition="aws",
        standby_replicas=False,
        force_destroy=True,
    )
    private = TerraformStack(app, "kb-private")
    AwsProvider(private, "aws", region="eu-west-1")
    constructs["private"] = RunbookKnowledgeBase(
        private,
        "kb",
        name_prefix="opsagent-production-eu-west-1-runbooks",
        kms_key_arn=KEY_ARN,
        kms_key_id=KEY_ID,
        runbooks_path=RUNBOOKS,
        index_function_zip=zip_path,
        private_network=True,
        vpc_endpoint_ids=[VPCE],
        index_function_subnet_ids=["subnet-1", "subnet-2"],
        index_function_security_group_ids=["sg-1"],
    )
    app.synth()
    stacks = {
        name: json.loads((tmp / "out" / "stacks" / f"kb-{name}" / "cdk.tf.json").read_text())
        for name in ("public", "private")
    }
    return {"tf": stacks, "constructs": constructs, "outdir": tmp / "out", "zip": zip_path}


def one(tf: dict, rtype: str) -> dict:
    blocks = tf["resource"].get(rtype, {})
    assert len(blocks) == 1, f"expected one {rtype}, got {list(blocks)}"
    return next(iter(blocks.values()))


def name_of(tf: dict, rtype: str) -> str:
    return next(iter(tf["resource"][rtype]))


def ref(tf: dict, rtype: str, attr: str) -> str:
    return "${" + f"{rtype}.{name_of(tf, rtype)}.{attr}" + "}"


@pytest.fixture(scope="module")
def pub(synthesized):
    return synthesized["tf"]["public"]


@pytest.fixture(scope="module")
def priv(synthesized):
    return synthesized["tf"]["private"]


# --- bucket ----------------------------------------------------------------------------------------


def test_bucket_is_versioned_kms_encrypted_private_and_tls_only(pub):
    bucket = one(pub, "aws_s3_bucket")
    assert bucket["bucket_prefix"] == "opsagent-dev-kb-" and bucket["force_destroy"] is True
    bucket_id = ref(pub, "aws_s3_bucket", "id")
    assert one(pub, "aws_s3_bucket_versioning")["versioning_configuration"]["status"] == "Enabled"
    [rule] = one(pub, "aws_s3_bucket_server_side_encryption_configuration")["rule"]
    assert rule["apply_server_side_encryption_by_default"] == {
        "sse_algorithm": "aws:kms",
        "kms_master_key_id": KEY_ARN,
    }
    assert rule["bucket_key_enabled"] is True
    pab = one(pub, "aws_s3_bucket_public_access_block")
    assert pab["bucket"] == bucket_id
    assert all(
        pab[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    assert one(pub, "aws_s3_bucket_ownership_controls")["rule"]["object_ownership"] == "BucketOwnerEnforced"
    policy = json.loads(one(pub, "aws_s3_bucket_policy")["policy"])
    tls = next(s for s in policy["Statement"] if s["Sid"] == "DenyInsecureTransport")
    assert tls["Effect"] == "Deny" and tls["Principal"] == "*" and tls["Action"] == "s3:*"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(tls["Resource"]) == {ref(pub, "aws_s3_bucket", "arn"), ref(pub, "aws_s3_bucket", "arn") + "/*"}
    assert all(s["Effect"] == "Deny" for s in policy["Statement"])  # the bucket policy only denies
    [lifecycle] = one(pub, "aws_s3_bucket_lifecycle_configuration")["rule"]
    assert lifecycle["status"] == "Enabled" and lifecycle["noncurrent_version_expiration"]


def test_every_runbook_and_metadata_file_is_uploaded_with_a_content_hash(pub, synthesized):
    objects = list(pub["resource"]["aws_s3_object"].values())
    files = sorted(p for p in RUNBOOKS.iterdir() if p.suffix == ".md" or p.name.endswith(".metadata.json"))
    assert sorted(o["key"] for o in objects) == sorted(f"runbooks/{p.name}" for p in files)
    stack_dir = synthesized["outdir"] / "stacks" / "kb-public"
    for obj in objects:
        local = RUNBOOKS / obj["key"].removeprefix("runbooks/")
        data = local.read_bytes()
        assert obj["source_hash"] == hashlib.md5(data).hexdigest()  # = filemd5(): changes re-upload
        assert obj["metadata"] == {"sha256": hashlib.sha256(data).hexdigest()}  # what kb_sync compares
        assert obj["kms_key_id"] == KEY_ARN and "etag" not in obj  # etag is not an MD5 under SSE-KMS
        assert obj["content_type"] == (
            "application/json" if local.name.endswith(".json") else "text/markdown; charset=utf-8"
        )
        copied = stack_dir / obj["source"]  # the asset copy Terraform uploads from
        assert copied.read_bytes() == data


# --- OpenSearch Serverless -----------------------------------------------------------------------


def policies(tf: dict, type_: str) -> list[dict]:
    return [
        b for b in tf["resource"]["aws_opensearchserverless_security_policy"].values() if b["type"] == type_
    ]


def test_collection_and_encryption_policy_with_the_cmk(pub):
    collection = one(pub, "aws_opensearchserverless_collection")
    assert collection["type"] == "VECTORSEARCH" and collection["name"] == "opsagent-dev-kb"
    assert collection["standby_replicas"] == "DISABLED"
    [enc] = policies(pub, "encryption")
    doc = json.loads(enc["policy"])
    assert doc == {
        "Rules": [{"ResourceType": "collection", "Resource": ["collection/opsagent-dev-kb"]}],
        "AWSOwnedKey": False,
        "KmsARN": KEY_ARN,
    }
    names = {
        f"aws_opensearchserverless_security_policy.{n}"
        for n in pub["resource"]["aws_opensearchserverless_security_policy"]
    }
    assert names <= set(collection["depends_on"])  # the collection needs its encryption policy first


def test_network_policy_public_by_default_and_private_on_request(pub, priv):
    [public] = policies(pub, "network")
    assert json.loads(public["policy"]) == [
        {
            "Rules": [{"ResourceType": "collection", "Resource": ["collection/opsagent-dev-kb"]}],
            "AllowFromPublic": True,
        }
    ]
    [private] = policies(priv, "network")
    [rule] = json.loads(private["policy"])
    assert rule["AllowFromPublic"] is False and rule["SourceVPCEs"] == [VPCE]
    assert rule["SourceServices"] == ["bedrock.amazonaws.com"]
    assert one(priv, "aws_opensearchserverless_collection")["standby_replicas"] == "ENABLED"


def test_data_access_policy_grants_the_kb_and_bootstrap_roles_only_what_they_use(pub):
    access = one(pub, "aws_opensearchserverless_access_policy")
    assert access["type"] == "data"
    kb_role, index_role = (
        ref(pub, "aws_iam_role", "arn").replace(name_of(pub, "aws_iam_role"), n)
        for n in sorted(pub["resource"]["aws_iam_role"], key=lambda n: "index" in n)
    )
    entries = {tuple(e["Principal"]): e["Rules"] for e in json.loads(access["policy"])}
    assert set(entries) == {(kb_role,), (index_role,)}
    assert entries[(kb_role,)] == [
        {
            "ResourceType": "index",
            "Resource": ["index/opsagent-dev-kb/*"],
            "Permission": ["aoss:DescribeIndex", "aoss:ReadDocument", "aoss:WriteDocument"],
        }
    ]
    assert entries[(index_role,)][0]["Permission"] == ["aoss:CreateIndex", "aoss:DescribeIndex"]


def test_long_prefixes_still_give_valid_aoss_names(priv):
    import re

    names = [
        one(priv, "aws_opensearchserverless_collection")["name"],
        one(priv, "aws_opensearchserverless_access_policy")["name"],
    ]
    names += [p["name"] for p in priv["resource"]["aws_opensearchserverless_security_policy"].values()]
    assert len(set(names)) == 4
    assert all(re.fullmatch(r"[a-z][a-z0-9-]{2,31}", n) for n in names), names


# --- index bootstrap ---------------------------------------------------------------------------------


def test_index_is_created_by_the_bootstrap_lambda_during_apply(pub, synthesized):
    from opsagent.vector_index.mapping import definition_hash, index_body

    function = one(pub, "aws_lambda_function")
    assert function["handler"] == "opsagent.vector_index.handler.lambda_handler"
    assert function["runtime"] == "python3.12" and function["architectures"] == ["arm64"]
    assert (
        function["kms_key_arn"] == KEY_ARN and "reserved_concurrent_executions" not in function
    )  # opt-in (small accounts)
    assert function["timeout"] >= 300
    import base64

    assert (
        function["source_code_hash"]
        == base64.b64encode(hashlib.sha256(synthesized["zip"].read_bytes()).digest()).decode()
    )
    invocation = one(pub, "aws_lambda_invocation")
    assert invocation["function_name"] == ref(pub, "aws_lambda_function", "function_name")
    payload = json.loads(invocation["input"])
    assert payload["endpoint"] == ref(pub, "aws_opensearchserverless_collection", "collection_endpoint")
    assert payload["index_name"] == "opsagent-runbooks" and payload["index"] == index_body(1024)
    assert (
        payload["index"]["mappings"]["properties"]["bedrock-knowledge-base-default-vector"]["dimension"]
        == 1024
    )
    assert invocation["triggers"] == {
        "index_definition": definition_hash("opsagent-runbooks", index_body(1024)),
        "collection_id": ref(pub, "aws_opensearchserverless_collection", "id"),
    }
    deps = set(invocation["depends_on"])
    for rtype in (
        "aws_opensearchserverless_collection",
        "aws_opensearchserverless_access_policy",
        "aws_lambda_function",
    ):
        assert f"{rtype}.{name_of(pub, rtype)}" in deps
    assert {
        f"aws_opensearchserverless_security_policy.{n}"
        for n in pub["resource"]["aws_opensearchserverless_security_policy"]
    } <= deps
    log_group = one(pub, "aws_cloudwatch_log_group")
    assert log_group["name"] == "/aws/lambda/opsagent-dev-kb-index" and log_group["kms_key_id"] == KEY_ARN


def test_private_mode_puts_the_bootstrap_lambda_in_the_vpc(priv):
    function = one(priv, "aws_lambda_function")
    assert function["vpc_config"] == {"subnet_ids": ["subnet-1", "subnet-2"], "security_group_ids": ["sg-1"]}


# --- knowledge base, data source, association -------------------------------------------------------


def test_knowledge_base_vector_titan_v2_on_the_collection(pub):
    kb = one(pub, "aws_bedrockagent_knowledge_base")
    assert kb["name"] == "opsagent-dev-runbooks"
    [config] = kb["knowledge_base_configuration"]
    assert config["type"] == "VECTOR"
    [vector] = config["vector_knowledge_base_configuration"]
    assert (
        vector["embedding_model_arn"]
        == "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
    )
    [emb] = vector["embedding_model_configuration"]
    assert emb["bedrock_embedding_model_configuration"] == [
        {"dimensions": 1024, "embedding_data_type": "FLOAT32"}
    ]
    [storage] = kb["storage_configuration"]
    assert storage["type"] == "OPENSEARCH_SERVERLESS"
    [oss] = storage["opensearch_serverless_configuration"]
    assert oss["collection_arn"] == ref(pub, "aws_opensearchserverless_collection", "arn")
    assert oss["vector_index_name"] == "opsagent-runbooks"
    assert oss["field_mapping"] == [
        {
            "vector_field": "bedrock-knowledge-base-default-vector",
            "text_field": "AMAZON_BEDROCK_TEXT_CHUNK",
            "metadata_field": "AMAZON_BEDROCK_METADATA",
        }
    ]
    assert f"aws_lambda_invocation.{name_of(pub, 'aws_lambda_invocation')}" in kb["depends_on"]


def test_data_source_reads_the_bucket_prefix_with_hierarchical_chunking(pub):
    ds = one(pub, "aws_bedrockagent_data_source")
    assert ds["knowledge_base_id"] == ref(pub, "aws_bedrockagent_knowledge_base", "id")
    [cfg] = ds["data_source_configuration"]
    assert cfg["type"] == "S3"
    assert cfg["s3_configuration"] == [
        {
            "bucket_arn": ref(pub, "aws_s3_bucket", "arn"),
            "bucket_owner_account_id": "123456789012",
            "inclusion_prefixes": ["runbooks/"],
        }
    ]
    [chunking] = ds["vector_ingestion_configuration"][0]["chunking_configuration"]
    assert chunking["chunking_strategy"] == "HIERARCHICAL"
    [hier] = chunking["hierarchical_chunking_configuration"]
    assert hier["overlap_tokens"] == 60
    assert hier["level_configuration"] == [{"max_tokens": 1500}, {"max_tokens": 300}]
    assert ds["server_side_encryption_configuration"] == [{"kms_key_arn": KEY_ARN}]
    assert ds["data_deletion_policy"] == "RETAIN"


def test_agent_association_only_with_an_agent(pub, priv, synthesized):
    assoc = one(pub, "aws_bedrockagent_agent_knowledge_base_association")
    assert assoc["agent_id"] == "AGENT12345" and assoc["knowledge_base_state"] == "ENABLED"
    assert assoc["knowledge_base_id"] == ref(pub, "aws_bedrockagent_knowledge_base", "id")
    assert 1 <= len(assoc["description"]) <= 200 and "Runbooks for EKS incidents" in assoc["description"]
    assert "aws_bedrockagent_agent_knowledge_base_association" not in priv["resource"]
    assert synthesized["constructs"]["private"].association is None


# --- IAM --------------------------------------------------------------------------------------------


def role_documents(tf: dict, role_hint: str) -> tuple[dict, dict]:
    role_name = next(n for n in tf["resource"]["aws_iam_role"] if role_hint in n)
    role = tf["resource"]["aws_iam_role"][role_name]
    docs = tf["data"]["aws_iam_policy_document"]
    trust = docs[role["assume_role_policy"].split(".")[2]]  # ${data.aws_iam_policy_document.<name>.json}
    policy = next(p for p in tf["resource"]["aws_iam_role_policy"].values() if role_name in p["role"])
    perms = docs[policy["policy"].split(".")[2]]
    return trust, perms


def test_kb_role_trust_is_bound_to_this_account_and_knowledge_bases(pub):
    trust, perms = role_documents(pub, "kb-role")
    [st] = trust["statement"]
    assert st["principals"] == [{"type": "Service", "identifiers": ["bedrock.amazonaws.com"]}]
    conditions = {(c["test"], c["variable"]): c["values"] for c in st["condition"]}
    assert conditions[("StringEquals", "aws:SourceAccount")] == ["123456789012"]
    assert conditions[("ArnLike", "aws:SourceArn")] == [
        "arn:aws:bedrock:us-east-1:123456789012:knowledge-base/*"
    ]
    actions = {s["sid"]: (s["actions"], s["resources"]) for s in perms["statement"]}
    assert actions["EmbedWithTitanV2"] == (
        ["bedrock:InvokeModel"],
        ["arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"],
    )
    assert actions["UseVectorCollection"] == (
        ["aoss:APIAccessAll"],
        [ref(pub, "aws_opensearchserverless_collection", "arn")],
    )
    assert actions["ReadRunbooks"] == (["s3:GetObject"], [ref(pub, "aws_s3_bucket", "arn") + "/*"])
    assert actions["ListRunbookBucket"] == (["s3:ListBucket"], [ref(pub, "aws_s3_bucket", "arn")])
    assert actions["UseStackKey"] == (["kms:Decrypt", "kms:GenerateDataKey"], [KEY_ARN])
    assert set(actions) == {
        "EmbedWithTitanV2",
        "UseVectorCollection",
        "ReadRunbooks",
        "ListRunbookBucket",
        "UseStackKey",
    }


def test_construct_iam_passes_the_stack_policy_scanner(pub, priv):
    from opsagent_infra.policy_scan import scan

    assert [str(f) for f in scan(pub)] == []
    assert [str(f) for f in scan(priv)] == []


def test_outputs_for_kb_sync_and_agent_statements(pub, synthesized):
    assert set(pub["output"]) == {
        "knowledge_base_id",
        "knowledge_base_data_source_id",
        "knowledge_base_bucket",
        "knowledge_base_collection_endpoint",
    }
    assert pub["output"]["knowledge_base_bucket"]["value"] == ref(pub, "aws_s3_bucket", "bucket")
    [st] = synthesized["constructs"]["public"].agent_statements
    assert st.actions == ("bedrock:Retrieve",)


# --- construction errors (no synth needed) ----------------------------------------------------------


def test_bad_arguments_fail_with_a_clear_message(tmp_path, synthesized):
    from cdktn import TerraformStack

    from opsagent_infra.knowledge_base import RunbookKnowledgeBase, aoss_name
    from opsagent_infra.synth import new_app

    stack = TerraformStack(new_app(tmp_path), "s")
    common = dict(name_prefix="p", kms_key_arn=KEY_ARN, kms_key_id=KEY_ID, runbooks_path=RUNBOOKS)
    with pytest.raises(ValueError, match="run `make build`"):
        RunbookKnowledgeBase(stack, "a", index_function_zip=tmp_path / "missing.zip", **common)
    with pytest.raises(ValueError, match="private_network needs vpc_endpoint_ids"):
        RunbookKnowledgeBase(
            stack, "b", index_function_zip=synthesized["zip"], private_network=True, **common
        )
    with pytest.raises(ValueError, match="index_function_subnet_ids"):
        RunbookKnowledgeBase(
            stack,
            "c",
            index_function_zip=synthesized["zip"],
            private_network=True,
            vpc_endpoint_ids=[VPCE],
            **common,
        )
    assert aoss_name("OpsAgent_Dev", "kb") == "opsagent-dev-kb"
    assert aoss_name("1abc", "kb") == "k1abc-kb"
    assert len(aoss_name("x" * 80, "kb-data")) <= 32


@pytest.mark.parametrize("stack", ["public", "private"])
def test_checkov_has_no_unexplained_failures(stack, synthesized):
    import os

    checkov = os.environ.get("CHECKOV")
    if not checkov:
        pytest.skip("CHECKOV is not set: run via `make test` (it creates .venv-checkov and sets CHECKOV)")
    from opsagent_infra.checkov_gate import reconcile, run_checkov

    tf_json = synthesized["outdir"] / "stacks" / f"kb-{stack}" / "cdk.tf.json"
    tf = json.loads(tf_json.read_text())
    gate = reconcile(run_checkov(checkov, tf_json), tf)  # maps "<type>.<name>" entities itself
    assert gate.passed > 50, "checkov ran suspiciously few checks"
    assert not gate.failed, "checkov failures:\n" + "\n".join(gate.failed)
    assert not gate.stale, "stale checkov skips:\n" + "\n".join(gate.stale)
    assert not gate.bad_reasons, "\n".join(gate.bad_reasons)
