"""`flask storage init`: the bucket exists and its CORS lets browsers upload (issue 15).

On the real S3 endpoint (moto's server) through boto3; the rules are read back with
get_bucket_cors, as an operator would check them.
"""

from __future__ import annotations

import pytest

from app.storage import CORS_RULE_PREFIX
from tests.s3_server import make_s3_storage, s3_endpoint  # noqa: F401

SITE = "https://wenming.example.cn"


@pytest.fixture
def s3_app(app, s3_endpoint):  # noqa: F811
    """The app on a bucket of its own that does not exist yet."""
    app.extensions["storage"] = make_s3_storage(s3_endpoint)
    app.config["PUBLIC_BASE_URL"] = SITE
    return app


def bucket_cors(storage) -> list[dict]:
    return storage.client.get_bucket_cors(Bucket=storage.bucket)["CORSRules"]


def init(app, *args):
    return app.test_cli_runner().invoke(args=["storage", "init", *args])


def test_it_creates_the_bucket_and_sets_the_upload_cors(s3_app):
    result = init(s3_app)
    assert result.exit_code == 0, result.output
    storage = s3_app.extensions["storage"]
    storage.client.head_bucket(Bucket=storage.bucket)
    assert f"bucket {storage.bucket} created" in result.output
    rules = {rule["ID"]: rule for rule in bucket_cors(storage)}
    uploads = rules[f"{CORS_RULE_PREFIX}uploads"]
    assert uploads["AllowedOrigins"] == [SITE]
    assert uploads["AllowedMethods"] == ["PUT"]
    assert uploads["ExposeHeaders"] == ["ETag"]
    assert uploads["AllowedHeaders"] == ["*"]
    media = rules[f"{CORS_RULE_PREFIX}media"]
    assert sorted(media["AllowedMethods"]) == ["GET", "HEAD"]


def test_running_it_again_changes_nothing(s3_app):
    assert init(s3_app).exit_code == 0
    storage = s3_app.extensions["storage"]
    before = bucket_cors(storage)
    again = init(s3_app)
    assert again.exit_code == 0, again.output
    assert "exists" in again.output and "already allows" in again.output
    assert bucket_cors(storage) == before


def test_the_configured_and_given_origins_are_allowed_too(s3_app):
    s3_app.config["S3_CORS_ORIGINS"] = ["https://admin.example.cn/"]
    assert init(s3_app, "--origin", "http://127.0.0.1:5000").exit_code == 0
    (uploads,) = [r for r in bucket_cors(s3_app.extensions["storage"]) if r["ID"].endswith("uploads")]
    assert sorted(uploads["AllowedOrigins"]) == ["http://127.0.0.1:5000", "https://admin.example.cn", SITE]


def test_rules_set_by_someone_else_are_kept(s3_app):
    storage = s3_app.extensions["storage"]
    storage.ensure_bucket()
    theirs = {"ID": "cdn-read", "AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
    storage.client.put_bucket_cors(Bucket=storage.bucket, CORSConfiguration={"CORSRules": [theirs]})
    assert init(s3_app).exit_code == 0
    ids = sorted(rule.get("ID") for rule in bucket_cors(storage))
    assert ids == ["cdn-read", f"{CORS_RULE_PREFIX}media", f"{CORS_RULE_PREFIX}uploads"]


def test_a_missing_bucket_it_may_not_create_is_a_clear_refusal(s3_app):
    s3_app.config["S3_CREATE_BUCKET"] = False
    result = init(s3_app)
    assert result.exit_code == 1
    assert "S3_CREATE_BUCKET is off" in result.output
    assert "docs/storage.md" in result.output


def test_a_garbled_origin_is_refused(s3_app):
    result = init(s3_app, "--origin", "not-an-origin")
    assert result.exit_code == 2
    assert "not an http(s) origin" in result.output


def test_local_storage_only_makes_its_folder(app, tmp_path):
    result = init(app)
    assert result.exit_code == 0, result.output
    assert "media folder ready" in result.output
