"""S3 sources and sinks: `s3://bucket/key` objects, `s3://bucket/prefix/` listings.

boto3 finds credentials and the endpoint the standard way: IRSA's web identity token on
EKS, AWS_* variables, or a profile; AWS_ENDPOINT_URL_S3 points it at MinIO or another
S3-compatible store.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .errors import FetchError


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not url.startswith("s3://"):
            raise ValueError(f"{url} is not an s3:// URL")
        bucket, _, key = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"{url} names no bucket")
        return cls(bucket, key)

    @property
    def is_prefix(self) -> bool:
        """A folder-like location (`s3://bucket/` or `s3://bucket/calls/`), not one object."""
        return self.key == "" or self.key.endswith("/")

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class S3Store:
    """A lazily created boto3 client and the three calls the workers need."""

    @cached_property
    def client(self) -> Any:
        import boto3  # imported on first use: most runs never touch S3

        return boto3.client("s3")

    def list(self, url: str) -> list[str]:
        """Every object under a prefix, as s3:// URLs in key order (folder markers left out)."""
        location = S3Location.parse(url)
        paginator = self.client.get_paginator("list_objects_v2")
        urls = []
        try:
            for page in paginator.paginate(Bucket=location.bucket, Prefix=location.key):
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):
                        urls.append(str(S3Location(location.bucket, item["Key"])))
        except Exception as error:  # botocore's errors: no such bucket, access denied, ...
            raise FetchError(f"listing {url} failed: {error}") from error
        return sorted(urls)

    def read(self, url: str, max_bytes: int) -> bytes:
        location = S3Location.parse(url)
        try:
            response = self.client.get_object(Bucket=location.bucket, Key=location.key)
        except Exception as error:
            raise FetchError(f"GET {url} failed: {error}") from error
        if int(response.get("ContentLength") or 0) > max_bytes:
            response["Body"].close()
            raise FetchError(f"{url} is larger than {max_bytes} bytes")
        return bytes(response["Body"].read())

    def write(self, url: str, body: bytes, content_type: str) -> None:
        location = S3Location.parse(url)
        self.client.put_object(
            Bucket=location.bucket, Key=location.key, Body=body, ContentType=content_type
        )
