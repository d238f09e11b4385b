"""Fixtures of the sweep tests: a local S3 server (moto, 127.0.0.1)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

#: The bucket the local S3 server is started with.
S3_BUCKET = "raygrid-test"


@pytest.fixture(scope="module")
def s3_env() -> Iterator[dict[str, str]]:
    """A moto S3 server with :data:`S3_BUCKET`, and this process's AWS
    environment pointed at it (any AWS_* variable of the caller removed)."""
    pytest.importorskip("moto.server", reason="needs the dev extra (moto[server])")
    from raygrid.testing.s3server import local_s3

    with local_s3(S3_BUCKET) as env, pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        yield env
