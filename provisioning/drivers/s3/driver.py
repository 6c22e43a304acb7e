"""Object-storage buckets: on an S3-compatible endpoint with a key limited to the bucket, or a folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from django.conf import settings

from provisioning.drivers.base import Driver, DriverError, Outputs, Status, register
from provisioning.drivers.names import physical_name

STATE_VERSION = 1


def _s3_configured() -> bool:
    return bool(settings.S3_ENDPOINT_URL)


def _client(service: str, access_key=None, secret_key=None):
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=settings.S3_ENDPOINT_URL,
        aws_access_key_id=access_key or settings.S3_ACCESS_KEY_ID,
        aws_secret_access_key=secret_key or settings.S3_SECRET_ACCESS_KEY,
        region_name=settings.S3_REGION,
        config=Config(
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            s3={"addressing_style": "path"},
        ),
    )


def bucket_policy(bucket: str) -> dict:
    """The IAM policy of a bucket's own key: everything on this bucket's objects, nothing elsewhere."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                "Resource": f"arn:aws:s3:::{bucket}",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
        ],
    }


def _error_code(exc) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _wrap(exc, what: str) -> DriverError:
    from botocore.exceptions import ClientError, EndpointConnectionError

    if isinstance(exc, EndpointConnectionError):
        return DriverError(
            "The storage service is not reachable right now; the portal will retry.",
            reason="unreachable",
            retryable=True,
        )
    if isinstance(exc, ClientError):
        return DriverError(f"The storage service refused to {what}: {_error_code(exc)}.", reason=_error_code(exc))
    return DriverError(f"Could not {what}: {exc}", reason="error")


@register
class BucketDriver(Driver):
    name = "s3"
    label = "S3-compatible storage (or a folder when none is configured)"
    kinds = frozenset({"bucket"})

    def usage(self, parameters, config=None):
        return {"storage_gb": int(parameters.get("storage_gb") or 0)}

    def _mode(self, resource) -> str:
        return resource.driver_state.get("mode") or ("s3" if _s3_configured() else "folder")

    def apply(self, resource, log) -> Outputs:
        if self._mode(resource) == "folder":
            return self._apply_folder(resource, log)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._apply_s3(resource, log)
        except (ClientError, BotoCoreError) as exc:
            raise _wrap(exc, "create the bucket") from exc

    def _apply_folder(self, resource, log) -> Outputs:
        path = Path(self._names(resource)["path"])
        path.mkdir(parents=True, exist_ok=True)
        log(f"Storage folder {path} is ready.")
        return Outputs(
            outputs={"path": str(path), "storage": "folder"},
            state={"version": STATE_VERSION, "mode": "folder", "path": str(path)},
        )

    def _apply_s3(self, resource, log) -> Outputs:
        names = self._names(resource)
        bucket, user = names["bucket"], names["user"]
        s3 = _client("s3")
        from botocore.exceptions import ClientError

        try:
            kwargs = {"Bucket": bucket}
            if settings.S3_REGION != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.S3_REGION}
            s3.create_bucket(**kwargs)
            log(f"Created the bucket {bucket}.")
        except ClientError as exc:
            if _error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
            log(f"The bucket {bucket} already exists.")
        if resource.parameters.get("versioning"):
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            log("Versioning is on: overwritten and deleted objects are kept as old versions.")
        try:
            s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            log("Public access is blocked.")
        except ClientError as exc:
            log(f"This endpoint does not support public access blocks ({_error_code(exc)}); skipped.")
        s3.put_bucket_tagging(
            Bucket=bucket,
            Tagging={
                "TagSet": [
                    {"Key": "portal-resource", "Value": str(resource.id)},
                    {"Key": "portal-team", "Value": resource.team.slug},
                ]
            },
        )

        iam = _client("iam")
        try:
            try:
                iam.create_user(UserName=user, Tags=[{"Key": "portal-resource", "Value": str(resource.id)}])
                log(f"Created the access identity {user}.")
            except ClientError as exc:
                if _error_code(exc) != "EntityAlreadyExists":
                    raise
            iam.put_user_policy(
                UserName=user, PolicyName="bucket-access", PolicyDocument=json.dumps(bucket_policy(bucket))
            )
            current = resource.secrets
            keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
            if current.get("access_key_id") and any(k["AccessKeyId"] == current["access_key_id"] for k in keys):
                secrets = {"access_key_id": current["access_key_id"], "secret_access_key": current["secret_access_key"]}
                log("Kept the existing access key.")
            else:
                for key in keys:  # keys whose secret we never saved (a crash half-way) are useless: replace them
                    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
                created = iam.create_access_key(UserName=user)["AccessKey"]
                secrets = {"access_key_id": created["AccessKeyId"], "secret_access_key": created["SecretAccessKey"]}
                log("Made an access key that can reach this bucket only.")
        except ClientError as exc:
            if _error_code(exc) in ("NotImplemented", "InvalidAction", "XNotImplemented", "MethodNotAllowed"):
                raise DriverError(
                    "This storage endpoint has no IAM API, so the portal cannot make a key limited to one bucket. "
                    "A Keeper must configure an endpoint with IAM (AWS, Ceph RGW) for buckets.",
                    reason="no_iam",
                ) from exc
            raise
        return Outputs(
            outputs={
                "endpoint": settings.S3_ENDPOINT_URL,
                "bucket": bucket,
                "region": settings.S3_REGION,
                "storage": "s3",
            },
            secrets=secrets,
            state={"version": STATE_VERSION, "mode": "s3", "bucket": bucket, "user": user},
        )

    def poll(self, resource) -> Status:
        if self._mode(resource) == "folder":
            path = resource.driver_state.get("path")
            return Status("ready") if path and Path(path).is_dir() else Status("missing", "The folder is gone.")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            _client("s3").head_bucket(Bucket=self._names(resource)["bucket"])
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
                return Status("missing", "The bucket no longer exists.")
            raise _wrap(exc, "check the bucket") from exc
        except BotoCoreError as exc:
            raise _wrap(exc, "check the bucket") from exc
        return Status("ready")

    def _names(self, resource) -> dict:
        """Where this resource's bucket lives; derived from the id when the state was never saved."""
        state = dict(resource.driver_state)
        state.setdefault("mode", self._mode(resource))
        if state["mode"] == "folder":
            state.setdefault("path", str(settings.DATA_DIR / "buckets" / physical_name(resource, sep="-")))
        else:
            state.setdefault("bucket", physical_name(resource, sep="-"))
            state.setdefault("user", f"portal-{state['bucket']}"[:64])
        return state

    def destroy(self, resource, log) -> None:
        state = self._names(resource)
        if state["mode"] == "folder":
            shutil.rmtree(state["path"], ignore_errors=True)
            log(f"Removed the folder {state['path']}.")
            return
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._destroy_s3(state, log)
        except (ClientError, BotoCoreError) as exc:
            raise _wrap(exc, "delete the bucket") from exc

    def _destroy_s3(self, state, log) -> None:
        from botocore.exceptions import ClientError

        bucket, user = state["bucket"], state["user"]
        s3 = _client("s3")
        try:
            removed = 0
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                items = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
                ]
                if items:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": items, "Quiet": True})
                    removed += len(items)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                items = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if items:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": items, "Quiet": True})
                    removed += len(items)
            s3.delete_bucket(Bucket=bucket)
            log(f"Emptied ({removed} objects) and deleted the bucket {bucket}.")
        except ClientError as exc:
            if _error_code(exc) != "NoSuchBucket":
                raise
            log(f"The bucket {bucket} was already gone.")
        iam = _client("iam")
        try:
            for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
                iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
            for policy in iam.list_user_policies(UserName=user)["PolicyNames"]:
                iam.delete_user_policy(UserName=user, PolicyName=policy)
            iam.delete_user(UserName=user)
            log(f"Deleted the access identity {user} and its keys.")
        except ClientError as exc:
            if _error_code(exc) != "NoSuchEntity":
                raise

    def preview(self, resource) -> str:
        if self._mode(resource) == "folder":
            return f"A storage folder under {settings.DATA_DIR / 'buckets'}."
        return (
            f"An S3 bucket {physical_name(resource, sep='-')} on {settings.S3_ENDPOINT_URL} with public access "
            "blocked, and an access key that can reach only this bucket."
        )
