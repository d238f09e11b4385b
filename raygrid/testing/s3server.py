"""A local S3 server for tests: moto's server mode on 127.0.0.1.

Needs the ``moto[server]`` test dependency (the ``dev`` extra).

Example:
    >>> with local_s3("sweeps") as env:  # doctest: +SKIP
    ...     os.environ.update(env)  # or pass env= to a subprocess
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

#: Credentials the server accepts (moto checks none); never real ones.
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "raygrid-test", "AWS_SECRET_ACCESS_KEY": "raygrid-test-secret"}
REGION = "us-east-1"


@contextlib.contextmanager
def local_s3(*buckets: str) -> Iterator[dict[str, str]]:
    """Starts a moto S3 server on a free port of 127.0.0.1 with ``buckets``
    created, and yields the AWS environment that points at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {
            **TEST_CREDENTIALS,
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        client = boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=REGION,
            aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        for bucket in buckets:
            client.create_bucket(Bucket=bucket)
        yield env
    finally:
        server.stop()


def object_keys(env: dict[str, str], bucket: str) -> list[str]:
    """Every key in ``bucket`` (through boto3, independently of raygrid)."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return sorted(keys)


__all__ = ["local_s3", "object_keys"]
