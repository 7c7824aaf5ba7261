"""EKS authentication: token format, signing, refresh, DescribeCluster, and the whole path end to end."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from opsagent.errors import ConfigurationError, PermissionMissing
from opsagent.k8s import build_kube, get_kube, reset_kube
from opsagent.k8s.auth import (
    REFRESH_AFTER,
    EksToken,
    decode_token,
    describe_cluster,
    presign_get_caller_identity,
)
from opsagent_sim.k8s.api.auth import verify_sigv4_presigned_url
from opsagent_sim.k8s.tls import make_tls_files

SECRET = "test-secret-key"


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDOPSAGENTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session/token+value==")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    reset_kube()
    yield
    reset_kube()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_format(creds):
    token = EksToken("prod-eks", "eu-west-1").token()
    assert token.startswith("k8s-aws-v1.")
    body = token[len("k8s-aws-v1.") :]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", body), "base64url without padding"
    assert "=" not in body
    url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    assert url == decode_token(token)
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc == "sts.eu-west-1.amazonaws.com" and parts.path == "/"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q["Action"] == "GetCallerIdentity" and q["Version"] == "2011-06-15"
    assert q["X-Amz-Expires"] == "60"
    assert q["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
    assert (
        q["X-Amz-Credential"].startswith("AKIDOPSAGENTTEST/")
        and "/eu-west-1/sts/aws4_request" in q["X-Amz-Credential"]
    )
    assert q["X-Amz-Security-Token"] == "session/token+value=="
    assert re.fullmatch(r"\d{8}T\d{6}Z", q["X-Amz-Date"])


def test_cluster_name_is_covered_by_the_signature(creds):
    url = presign_get_caller_identity("prod-eks", "eu-west-1")
    assert verify_sigv4_presigned_url(url, {"x-k8s-aws-id": "prod-eks"}, SECRET)
    assert not verify_sigv4_presigned_url(url, {"x-k8s-aws-id": "staging-eks"}, SECRET)
    assert not verify_sigv4_presigned_url(url, {"x-k8s-aws-id": "prod-eks"}, "another-secret")


def test_china_regions_use_their_partition_endpoint(creds):
    url = presign_get_caller_identity("c1", "cn-north-1")
    assert urlsplit(url).netloc == "sts.cn-north-1.amazonaws.com.cn"


def test_presigned_url_ignores_the_offline_aws_endpoint(creds, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    assert (
        urlsplit(presign_get_caller_identity("prod-eks", "eu-west-1")).netloc == "sts.eu-west-1.amazonaws.com"
    )


def test_token_is_cached_then_refreshed_before_expiry(creds):
    clock = FakeClock()
    calls = []

    def presign(cluster, region, session):
        calls.append((cluster, region))
        return f"https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&n={len(calls)}"

    source = EksToken("prod-eks", "eu-west-1", clock=clock, presign=presign)
    first = source.token()
    clock.now += REFRESH_AFTER - 1
    assert source.token() == first and source.minted == 1
    clock.now += 1  # 10 minutes after minting: well inside the 15-minute validity, mint a new one
    second = source.token()
    assert second != first and source.minted == 2
    assert calls == [("prod-eks", "eu-west-1")] * 2
    source.invalidate()
    assert source.token() != second and source.minted == 3
    assert REFRESH_AFTER < 15 * 60
    with pytest.raises(ValueError):
        EksToken("prod-eks", "eu-west-1", refresh_after=15 * 60)


def test_real_signing_with_fake_clock(creds):
    clock = FakeClock()
    source = EksToken("prod-eks", "eu-west-1", clock=clock)
    token = source.token()
    clock.now += 60
    assert source.token() == token
    clock.now += REFRESH_AFTER
    assert source.token().startswith("k8s-aws-v1.") and source.minted == 2


def test_missing_credentials_is_a_configuration_error(monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigurationError, match="cannot sign an EKS token for cluster prod-eks"):
        EksToken("prod-eks", "eu-west-1").token()


def test_repr_never_shows_tokens(creds):
    source = EksToken("prod-eks", "eu-west-1")
    token = source.token()
    assert token not in repr(source)


# ---- DescribeCluster ----------------------------------------------------------------------------------


def test_describe_cluster_with_moto(aws):
    import boto3

    eks = boto3.client("eks", region_name="us-east-1")
    eks.create_cluster(
        name="prod-eks",
        roleArn="arn:aws:iam::123456789012:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]},
    )
    expected = eks.describe_cluster(name="prod-eks")["cluster"]
    result = describe_cluster("prod-eks", "us-east-1")
    assert result.endpoint == expected["endpoint"] and result.endpoint.startswith("https://")
    with open(result.ca_file, "rb") as fh:
        assert fh.read() == base64.b64decode(expected["certificateAuthority"]["data"])
    assert describe_cluster("prod-eks", "us-east-1") is result  # cached per container

    with pytest.raises(ConfigurationError, match="'staging-eks' does not exist in region us-east-1"):
        describe_cluster("staging-eks", "us-east-1")


def test_build_kube_from_cluster_name_with_moto(aws, monkeypatch):
    import boto3

    boto3.client("eks", region_name="us-east-1").create_cluster(
        name="prod-eks", roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={"subnetIds": []}
    )
    client = build_kube({"OPSAGENT_CLUSTER_NAME": "prod-eks"})
    assert client.endpoint.endswith(".eks.amazonaws.com")
    assert client.ca_file and client.ca_file.endswith(".pem")
    assert type(client.auth).__name__ == "EksToken" and client.auth.cluster_name == "prod-eks"


def test_describe_cluster_access_denied(creds):
    from botocore.stub import Stubber

    from opsagent.aws import client, reset_clients

    reset_clients()
    eks = client("eks", "eu-west-1")
    with Stubber(eks) as stub:
        stub.add_client_error("describe_cluster", "AccessDeniedException", "no", 403)
        with pytest.raises(PermissionMissing, match="lacks eks:DescribeCluster on cluster prod-eks"):
            describe_cluster("prod-eks", "eu-west-1")
    reset_clients()


def test_eks_end_to_end_against_the_emulator(creds, kube_factory):
    """DescribeCluster (stubbed: the emulator's https URL and its real CA) -> CA file in the temp dir ->
    presigned token whose SigV4 signature over x-k8s-aws-id the emulator verifies -> Kubernetes JSON."""
    from botocore.stub import Stubber

    from opsagent.aws import client, reset_clients

    kube = kube_factory("cpu-saturation", tls=True, eks_cluster="prod-eks", eks_secret_key=SECRET)
    reset_clients()
    eks = client("eks", "eu-west-1")
    with open(kube.ca_file, "rb") as fh:
        ca_b64 = base64.b64encode(fh.read()).decode()
    cluster = {
        "name": "prod-eks",
        "endpoint": kube.url,
        "status": "ACTIVE",
        "certificateAuthority": {"data": ca_b64},
    }
    with Stubber(eks) as stub:
        stub.add_response("describe_cluster", {"cluster": cluster}, {"name": "prod-eks"})
        with pytest.MonkeyPatch.context() as mp:
            for var in ("OPSAGENT_K8S_ENDPOINT", "OPSAGENT_K8S_CA_FILE", "OPSAGENT_K8S_TOKEN"):
                mp.delenv(var, raising=False)
            mp.setenv("OPSAGENT_CLUSTER_NAME", "prod-eks")
            reset_kube()
            k = get_kube()
            assert k.get("/apis/apps/v1/namespaces/shop/deployments/checkout")["spec"]["replicas"] == 3
            auth = kube.requests[-1].headers["authorization"]
            assert auth.startswith("Bearer <redacted")
            # a 401 (expired token) is retried once with a freshly minted token
            kube.inject("GET", "/deployments/checkout$", status=401, times=1)
            assert k.get("/apis/apps/v1/namespaces/shop/deployments/checkout")["kind"] == "Deployment"
            assert k.auth.minted == 2
            stub.assert_no_pending_responses()
            reset_kube()
    reset_clients()


def test_emulator_rejects_a_token_signed_for_another_cluster(creds, kube_factory, monkeypatch):
    kube_factory("cpu-saturation", eks_cluster="prod-eks", eks_secret_key=SECRET)
    monkeypatch.setenv("OPSAGENT_CLUSTER_NAME", "staging-eks")  # endpoint override + cluster -> EKS token
    reset_kube()
    with pytest.raises(PermissionMissing, match="401 Unauthorized"):
        get_kube().get("/api/v1/namespaces")
    assert get_kube().auth.minted == 2  # retried once with a fresh token, then gave up


def test_wrong_ca_from_describe_cluster(creds, kube_factory, tmp_path):
    from botocore.stub import Stubber

    from opsagent.aws import client, reset_clients

    kube = kube_factory("cpu-saturation", tls=True)
    with open(make_tls_files(str(tmp_path)).ca_file, "rb") as fh:
        other_ca = fh.read()
    reset_clients()
    eks = client("eks", "eu-west-1")
    cluster = {
        "name": "x",
        "endpoint": kube.url,
        "certificateAuthority": {"data": base64.b64encode(other_ca).decode()},
    }
    with Stubber(eks) as stub, pytest.MonkeyPatch.context() as mp:
        stub.add_response("describe_cluster", {"cluster": cluster}, {"name": "x"})
        mp.delenv("OPSAGENT_K8S_ENDPOINT")
        mp.delenv("OPSAGENT_K8S_CA_FILE")
        mp.setenv("OPSAGENT_CLUSTER_NAME", "x")
        reset_kube()
        with pytest.raises(ConfigurationError, match="TLS verification"):
            get_kube().get("/version")
        reset_kube()
    reset_clients()


def test_importing_opsagent_k8s_is_cheap():
    code = (
        "import sys, opsagent.k8s, opsagent.k8s.names; from opsagent.k8s import build_kube;"
        "c = build_kube({'OPSAGENT_K8S_ENDPOINT': 'http://127.0.0.1:1'});"
        "heavy = ('boto3', 'botocore', 'kubernetes', 'lightkube', 'httpx');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_resetting_the_client_deletes_the_ca_file_it_wrote(aws):
    import boto3

    from opsagent.k8s import reset_kube

    boto3.client("eks", region_name="us-east-1").create_cluster(
        name="prod-eks", roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={"subnetIds": []}
    )
    ca_file = describe_cluster("prod-eks", "us-east-1").ca_file
    assert ca_file and os.path.exists(ca_file)
    reset_kube()
    assert not os.path.exists(ca_file)
