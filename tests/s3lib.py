"""An S3 server for the tests: moto's standalone server (it speaks the S3 protocol), on
all addresses so pods on the local control plane reach it too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from localcluster.layout import free_port

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "whisper-test",
    "AWS_SECRET_ACCESS_KEY": "whisper-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Server:
    port: int

    def endpoint(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def env(self, host: str = "127.0.0.1") -> dict[str, str]:
        """What boto3 needs to use this server (the variables the workers get)."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL_S3": self.endpoint(host)}

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint(),
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="0.0.0.0", port=port, verbose=False)  # noqa: S104
    server.start()
    yield S3Server(port)
    server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """This process's boto3 pointed at the test server."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server
