"""Where a Kubernetes job's results go: a prefix of the results bucket (KUBERNETES_RESULTS_BUCKET), one per job.

A pod's /workspace is an emptyDir that disappears with the pod, and the portal cannot read a pod's disk. So the job
writes its results to object storage, the way training on a real cluster keeps them: the Job gets the prefix's
address (PORTAL_RESULTS_URI) and an access key whose policy allows that prefix only (an IAM user per job, its key in
a Secret of the team's namespace), and a sidecar copies /workspace there every KUBERNETES_RESULTS_SYNC_SECONDS and
once more when the job ends. The file browser and the training curves read the prefix through the portal's S3 code.
"""

from __future__ import annotations

import json

from django.conf import settings

from provisioning.drivers.base import DriverError

SYNC_CONTAINER = "results-sync"
# Copies the workspace ($PORTAL_WORKSPACE, /workspace in the pod) to the prefix while the job runs, and a last time
# when Kubernetes stops it (the job ended). No user text reaches this script: both places come from the environment.
SYNC_SCRIPT = (
    'sync() { aws s3 sync "$PORTAL_WORKSPACE" "$PORTAL_RESULTS_URI" --only-show-errors '
    '--exclude ".*" --exclude "*/.*"; }\n'
    "trap 'sync; exit 0' TERM INT\n"
    'while true; do sleep "$PORTAL_RESULTS_SYNC_SECONDS" & wait $!; sync; done\n'
)


def configured() -> bool:
    return bool(settings.KUBERNETES_RESULTS_BUCKET and settings.S3_ENDPOINT_URL)


def _client(service: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=settings.S3_ENDPOINT_URL,
        aws_access_key_id=settings.S3_ACCESS_KEY_ID,
        aws_secret_access_key=settings.S3_SECRET_ACCESS_KEY,
        region_name=settings.S3_REGION,
        config=Config(
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            s3={"addressing_style": "path"},
        ),
    )


def place(resource) -> dict:
    """{"bucket", "prefix", "user"}: the job's prefix (<team>/<name>-<id8>/) and the IAM user of its key."""
    short = str(resource.id)[:8]
    return {
        "bucket": settings.KUBERNETES_RESULTS_BUCKET,
        "prefix": f"{resource.team.slug}/{resource.name}-{short}/",
        "user": f"portal-job-{resource.id}",
    }


def prefix_policy(bucket: str, prefix: str) -> dict:
    """What the job's key may do: read, write and delete under its prefix; list only that prefix."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": f"arn:aws:s3:::{bucket}/{prefix}*",
            },
        ],
    }


def _wrap(exc, what: str) -> DriverError:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") or exc.__class__.__name__
    return DriverError(f"The storage service refused to {what}: {code}.", reason="results_storage", retryable=True)


def prepare(resource, log) -> tuple[dict, dict]:
    """The bucket (made when missing), the job's IAM user with its prefix policy, and a fresh key for it (older keys
    are removed: a retry gets a new one). Returns (place, key) with key = {access_key_id, secret_access_key}."""
    from botocore.exceptions import BotoCoreError, ClientError

    where = place(resource)
    s3, iam = _client("s3"), _client("iam")
    try:
        try:
            s3.head_bucket(Bucket=where["bucket"])
        except ClientError:
            kwargs = {"Bucket": where["bucket"]}
            if settings.S3_REGION != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.S3_REGION}
            s3.create_bucket(**kwargs)
            log(f"Created the results bucket {where['bucket']}.")
        try:
            iam.create_user(UserName=where["user"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "EntityAlreadyExists":
                raise
        iam.put_user_policy(
            UserName=where["user"],
            PolicyName="results-prefix",
            PolicyDocument=json.dumps(prefix_policy(where["bucket"], where["prefix"])),
        )
        for old in iam.list_access_keys(UserName=where["user"])["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=where["user"], AccessKeyId=old["AccessKeyId"])
        created = iam.create_access_key(UserName=where["user"])["AccessKey"]
    except (ClientError, BotoCoreError) as exc:
        raise _wrap(exc, "prepare the job's results prefix") from exc
    log(f"Results go to s3://{where['bucket']}/{where['prefix']} (a key for that prefix only).")
    return where, {"access_key_id": created["AccessKeyId"], "secret_access_key": created["SecretAccessKey"]}


def remove(state: dict, log) -> None:
    """Delete the job's results and its IAM user (idempotent): the results go with the job, as a folder would."""
    from botocore.exceptions import BotoCoreError, ClientError

    results = state.get("results") or {}
    if not results.get("bucket") or not settings.S3_ENDPOINT_URL:
        return
    s3, iam = _client("s3"), _client("iam")
    try:
        token = None
        while True:
            kwargs = {"Bucket": results["bucket"], "Prefix": results["prefix"]}
            if token:
                kwargs["ContinuationToken"] = token
            page = s3.list_objects_v2(**kwargs)
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=results["bucket"], Delete={"Objects": keys})
            if not page.get("IsTruncated"):
                break
            token = page["NextContinuationToken"]
        user = results.get("user")
        if user:
            try:
                for old in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
                    iam.delete_access_key(UserName=user, AccessKeyId=old["AccessKeyId"])
                iam.delete_user_policy(UserName=user, PolicyName="results-prefix")
                iam.delete_user(UserName=user)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                    raise
    except (ClientError, BotoCoreError) as exc:
        raise _wrap(exc, "remove the job's results") from exc
    log(f"Removed its results under s3://{results['bucket']}/{results['prefix']}.")
