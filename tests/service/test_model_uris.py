"""Finding 1 (S3 mode): a model URI must lie under a prefix the deployment allows, never in
the service's own store, and refusals name nothing the caller does not own. Against moto's S3
server through the minio client, with PostgreSQL; the service's allow-list even (wrongly)
names its own bucket, which still does not open it."""

from __future__ import annotations

from pathlib import Path

from domain.base_models.service import archive_key
from domain.settings import Settings

from .support import Service, assert_problem, upload_teacher


def test_another_tenants_upload_cannot_be_registered_by_uri(
    postgres_s3_service: Service, teacher_tar: Path
) -> None:
    victim = postgres_s3_service.new_key("victim", ["models:write", "jobs:read"])
    attacker = postgres_s3_service.new_key("attacker", ["models:write", "jobs:read"])
    with postgres_s3_service.client(victim) as client:
        theirs = upload_teacher(client, teacher_tar)
    own = "s3://sfd-artifacts/service"
    targets = [
        f"{own}/{archive_key(theirs['id'])}",  # the review's URI
        f"{own}/models/",  # a prefix: its error once named the other model
        f"{own}/models/{theirs['id']}/",
        f"{own}/audit/checkpoints/",
        "s3://sfd-artifacts/service/jobs/",
        "s3://other-bucket/model.tar",  # a bucket the service's credentials may read
    ]
    with postgres_s3_service.client(attacker) as client:
        for uri in targets:
            problem = assert_problem(client.post("/v1/models", json={"uri": uri}), 422)
            assert problem["code"] == "uri_not_allowed", problem
            assert theirs["id"] not in problem["detail"].replace(uri, "")
        mine = client.get("/v1/models?limit=100").json()["data"]
    assert theirs["sha256"] not in {m["sha256"] for m in mine if m["owned_by"] == "attacker"}


def test_tenant_prefixes(tmp_path: Path) -> None:
    from domain.base_models import allowlist
    from domain.errors import Invalid

    settings = Settings(
        home=tmp_path,
        storage_url="s3://store/prefix",
        model_uri_prefixes=["s3://models/{tenant}/", "s3://shared/public"],
    )
    assert allowlist.allowed(settings, "acme", "s3://models/acme/m.tar")
    assert allowlist.allowed(settings, "acme", "s3://shared/public/x/")
    refused = [
        ("globex", "s3://models/acme/m.tar"),
        ("acme", "s3://models/acme-evil/m.tar"),
        ("acme", "s3://shared/publicity/m.tar"),
        ("acme", "s3://store/prefix/models/x/model.tar"),
        ("acme", "s3://models/acme/../globex/m.tar"),
        ("acme", "s3://models/acme/%2e%2e/globex/m.tar"),
    ]
    for tenant, uri in refused:
        try:
            allowlist.allowed(settings, tenant, uri)
        except Invalid as exc:
            assert exc.code in ("uri_not_allowed", "invalid_uri")
            assert "globex" not in exc.detail.replace(uri, "") or tenant == "globex"
        else:
            raise AssertionError(f"{uri} was allowed for {tenant}")
