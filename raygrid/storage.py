"""Where a sweep lives: a local (or shared-filesystem) folder or ``s3://bucket/prefix``.

Every part of raygrid that reads or writes a sweep folder goes through a
:class:`Location`; this is the only module that parses storage URIs or builds
a filesystem. Local locations use the standard library (fast ``os.scandir``
listings, ``os.replace`` atomic writes); S3 locations use
``pyarrow.fs.S3FileSystem``.

S3 settings come from the standard AWS environment, never from a spec or a
sweep folder: ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (an S3-compatible
server, e.g. MinIO or moto), ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, and the
credentials chain of the AWS SDK (``AWS_ACCESS_KEY_ID`` +
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, a credentials file, web
identity, container or instance credentials). The filesystem object is
built without explicit keys, so pickling it (Ray Tune saves its
``RunConfig``) carries the endpoint and region only, never a secret.

Atomicity on S3: an object appears whole when its upload completes, so
:meth:`Location.write_bytes` uploads the complete bytes under the final name
(a killed writer leaves no object). A folder (a checkpoint) is uploaded file
by file with its marker file last; readers test the marker.

Example:
    >>> loc = Location.of("s3://bucket/runs") / "demo" / "sweep.json"
    >>> loc.uri, loc.remote, loc.name
    ('s3://bucket/runs/demo/sweep.json', True, 'sweep.json')
    >>> str(Location.of("/tmp/runs") / "demo")
    '/tmp/runs/demo'
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raygrid.faults import at_write
from raygrid.fileio import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow.fs

S3_SCHEME = "s3://"
CACHE_ENV = "RAYGRID_CACHE_DIR"
#: Seconds to wait for a connection to the S3 endpoint (the SDK's default is 1 s).
S3_CONNECT_TIMEOUT_S = 10.0


def is_remote(uri: str | os.PathLike[str]) -> bool:
    """Whether ``uri`` names object storage (``s3://``)."""
    return str(uri).startswith(S3_SCHEME)


@dataclass(frozen=True)
class Location:
    """A file or folder: a local path or an ``s3://bucket/key`` URI.

    Immutable and picklable (the filesystem is looked up per process).
    ``/`` joins parts, ``str()`` gives the path or URI.
    """

    uri: str

    @classmethod
    def of(cls, where: Location | str | os.PathLike[str]) -> Location:
        if isinstance(where, Location):
            return where
        text = os.fspath(where) if not isinstance(where, str) else where
        if is_remote(text):
            return cls(text.rstrip("/") if text.count("/") > 2 else text)
        return cls(str(Path(text)))

    # -- naming ----------------------------------------------------------------------------

    @property
    def remote(self) -> bool:
        return is_remote(self.uri)

    def __truediv__(self, part: str | os.PathLike[str]) -> Location:
        part = os.fspath(part)
        if self.remote:
            return Location(f"{self.uri.rstrip('/')}/{str(part).strip('/')}")
        return Location(str(Path(self.uri) / part))

    def __str__(self) -> str:
        return self.uri

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1] if self.remote else Path(self.uri).name

    @property
    def parent(self) -> Location:
        if self.remote:
            head = self.uri[len(S3_SCHEME) :].rstrip("/")
            return Location(S3_SCHEME + head.rsplit("/", 1)[0]) if "/" in head else self
        return Location(str(Path(self.uri).parent))

    @property
    def local(self) -> Path:
        """The local path (a ValueError for an S3 location)."""
        if self.remote:
            raise ValueError(f"{self.uri} is not a local path")
        return Path(self.uri)

    @property
    def bucket(self) -> str:
        return self._key_path().split("/", 1)[0]

    @property
    def key(self) -> str:
        """The object key in :attr:`bucket` (S3)."""
        return self._key_path().split("/", 1)[1] if "/" in self._key_path() else ""

    def _key_path(self) -> str:
        """``bucket/key``: the path pyarrow's S3 filesystem takes."""
        return self.uri[len(S3_SCHEME) :].rstrip("/")

    def arrow(self) -> tuple[pyarrow.fs.FileSystem | None, str]:
        """``(filesystem, path)`` for pyarrow readers and Ray's
        ``storage_filesystem``/``storage_path``; the filesystem is ``None``
        for a local path."""
        if self.remote:
            return s3_filesystem(), self._key_path()
        return None, self.uri

    # -- queries -----------------------------------------------------------------------------

    def _info(self) -> Any:
        return s3_filesystem().get_file_info(self._key_path())

    def exists(self) -> bool:
        if self.remote:
            import pyarrow.fs as pfs

            return bool(self._info().type != pfs.FileType.NotFound)
        return Path(self.uri).exists()

    def is_file(self) -> bool:
        if self.remote:
            import pyarrow.fs as pfs

            return bool(self._info().type == pfs.FileType.File)
        return Path(self.uri).is_file()

    def is_dir(self) -> bool:
        if self.remote:
            import pyarrow.fs as pfs

            return bool(self._info().type == pfs.FileType.Directory)
        return Path(self.uri).is_dir()

    def names(self) -> list[str]:
        """Names of the folder's entries (files and folders; none if it is missing)."""
        if self.remote:
            import pyarrow.fs as pfs

            selector = pfs.FileSelector(self._key_path(), allow_not_found=True)
            return sorted({info.base_name for info in s3_filesystem().get_file_info(selector) if info.base_name})
        try:
            with os.scandir(self.uri) as entries:
                return sorted(e.name for e in entries)
        except (FileNotFoundError, NotADirectoryError):
            return []

    def files(self) -> list[str]:
        """Every file below the folder, as ``/``-separated relative paths."""
        if self.remote:
            import pyarrow.fs as pfs

            root = self._key_path()
            selector = pfs.FileSelector(root, allow_not_found=True, recursive=True)
            infos = s3_filesystem().get_file_info(selector)
            return sorted(i.path[len(root) + 1 :] for i in infos if i.type == pfs.FileType.File)
        base = Path(self.uri)
        return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())

    # -- reading and writing -----------------------------------------------------------------

    def read_bytes(self) -> bytes:
        """The file's bytes (FileNotFoundError if it is missing)."""
        if self.remote:
            try:
                with s3_filesystem().open_input_stream(self._key_path()) as handle:
                    return bytes(handle.read())
            except FileNotFoundError:
                raise
            except OSError as exc:
                if "NoSuchKey" in str(exc) or "does not exist" in str(exc) or "Path does not exist" in str(exc):
                    raise FileNotFoundError(self.uri) from None
                raise
        return Path(self.uri).read_bytes()

    def read_text(self) -> str:
        return self.read_bytes().decode("utf-8")

    def write_bytes(self, data: bytes) -> None:
        """Writes the whole file atomically (readers see the old or the new one)."""
        if self.remote:
            # the object appears when its upload completes: never half of it
            with s3_filesystem().open_output_stream(self._key_path()) as handle:
                handle.write(data)
                at_write(self.uri)  # the fault tests' kill before the upload completes
            return
        atomic_write_bytes(Path(self.uri), data)

    def write_text(self, text: str) -> None:
        self.write_bytes(text.encode("utf-8"))

    def mkdir(self) -> None:
        """Creates a local folder (and its parents); S3 has no folders to create."""
        if not self.remote:
            Path(self.uri).mkdir(parents=True, exist_ok=True)

    def remove(self) -> None:
        """Removes the file (no error if it is missing)."""
        if self.remote:
            import pyarrow.fs as pfs

            fs = s3_filesystem()
            if fs.get_file_info(self._key_path()).type == pfs.FileType.File:
                fs.delete_file(self._key_path())
            return
        Path(self.uri).unlink(missing_ok=True)

    def rmtree(self) -> None:
        """Removes the folder and everything below it (no error if missing)."""
        if self.remote:
            fs = s3_filesystem()
            import pyarrow.fs as pfs

            if fs.get_file_info(self._key_path()).type == pfs.FileType.Directory:
                fs.delete_dir(self._key_path())
            return
        shutil.rmtree(self.uri, ignore_errors=True)

    def upload(self, local_dir: Path, *, last: str | None = None) -> None:
        """Copies a local folder here, file by file; ``last`` (a relative
        path) goes last: the marker that the folder is complete."""
        files = sorted(p.relative_to(local_dir).as_posix() for p in local_dir.rglob("*") if p.is_file())
        if last is not None and last in files:
            files = [f for f in files if f != last] + [last]
        if not self.remote:
            target = Path(self.uri)
            for rel in files:
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(local_dir / rel, target / rel)
            return
        fs = s3_filesystem()
        for rel in files:
            with open(local_dir / rel, "rb") as src, fs.open_output_stream(f"{self._key_path()}/{rel}") as dst:
                shutil.copyfileobj(src, dst, length=8 << 20)

    def download(self, local_dir: Path) -> None:
        """Copies the folder's files into ``local_dir``."""
        for rel in self.files():
            out = local_dir / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if self.remote:
                with s3_filesystem().open_input_stream(f"{self._key_path()}/{rel}") as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, length=8 << 20)
            else:
                shutil.copyfile(Path(self.uri) / rel, out)


# -- the S3 filesystem -----------------------------------------------------------------------------


def s3_endpoint() -> str | None:
    """The S3 endpoint from the AWS environment (``None``: AWS itself)."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


@functools.lru_cache(maxsize=4)
def _s3_filesystem(endpoint: str | None, region: str | None) -> pyarrow.fs.S3FileSystem:
    import pyarrow.fs as pfs

    # No keys passed: the SDK's credentials chain reads them, so the object
    # (which Ray pickles into its experiment state) holds no secret.
    return pfs.S3FileSystem(
        endpoint_override=endpoint,
        region=region,
        connect_timeout=S3_CONNECT_TIMEOUT_S,
        check_directory_existence_before_creation=False,
    )


def s3_region() -> str | None:
    """The region from the AWS environment (``None``: the SDK's default)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def s3_filesystem() -> pyarrow.fs.S3FileSystem:
    """The process's S3 filesystem, configured from the AWS environment."""
    return _s3_filesystem(s3_endpoint(), s3_region())


def s3_client() -> Any:
    """A boto3 S3 client from the same AWS environment as :func:`s3_filesystem`,
    for what pyarrow's filesystem cannot do: conditional writes (the sweep's
    lease, :mod:`raygrid.sweep.lease`). Credentials come from the SDK's chain,
    never from raygrid; boto3 is imported only here."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=S3_CONNECT_TIMEOUT_S, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("s3", endpoint_url=s3_endpoint(), region_name=s3_region(), config=config)


def _has_credentials() -> bool:
    """Whether the AWS credentials chain has a source to read (keys,
    profile, credentials file, web identity, container or instance)."""
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return True
    if env.get("AWS_PROFILE") or env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return True
    if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return True
    shared = env.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.expanduser("~/.aws/credentials")
    if os.path.isfile(shared):
        return True
    return env.get("AWS_EC2_METADATA_DISABLED", "").lower() != "true"  # an instance role may answer


def storage_problem(uri: str) -> str | None:
    """Why a sweep cannot be stored under ``uri`` (``None``: it can), checked
    without writing anything. Local paths: see :func:`raygrid.spec.check_storage`.
    """
    if not is_remote(uri):
        return None
    if not _has_credentials():
        return "no AWS credentials in the environment (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
    import pyarrow.fs as pfs

    loc = Location.of(uri)
    endpoint = s3_endpoint() or "AWS S3"
    try:
        bucket = s3_filesystem().get_file_info(loc.bucket)
        if bucket.type == pfs.FileType.NotFound:
            return f"no bucket {loc.bucket!r} at {endpoint}"
        s3_filesystem().get_file_info(loc._key_path())  # can the prefix be read?
    except OSError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot reach bucket {loc.bucket!r} at {endpoint} ({first[:300]})"
    return None


# -- node-local copies -------------------------------------------------------------------------------


def cache_dir() -> Path:
    """This node's cache folder: ``$RAYGRID_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/raygrid``, else ``~/.cache/raygrid``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "raygrid"


def _cache_name(uri: str) -> str:
    return hashlib.sha256(uri.encode()).hexdigest()[:24]


def local_copy(source: str, *, marker: str | None = None) -> str:
    """A local folder with the contents of ``source``: ``source`` itself
    when it is local (or a model name), else a copy of the S3 folder in the
    node's cache (downloaded once; ``marker`` is a file whose presence says
    the S3 folder is complete). For ``from_pretrained``, which needs a
    local folder."""
    if not is_remote(source):
        return source
    remote = Location.of(source)
    if marker is not None and not (remote / marker).is_file():
        raise FileNotFoundError(f"{source}: incomplete or missing (no {marker})")
    target = cache_dir() / "s3" / _cache_name(remote.uri)
    if target.is_dir():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        remote.download(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another process on this node got there first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(target)


@contextlib.contextmanager
def staged_dir(where: Location, *, last: str | None = None) -> Iterator[Path]:
    """A local path to write the folder ``where`` at: ``where`` itself when
    local; for S3 a path in a temporary folder (not created: writers create
    it as they would ``where``), uploaded if it exists when the block ends
    without an error (``last`` goes last, see :meth:`Location.upload`)."""
    if not where.remote:
        yield where.local
        return
    with tempfile.TemporaryDirectory(prefix="raygrid-stage-") as tmp:
        local = Path(tmp) / where.name
        yield local
        if local.is_dir():
            where.upload(local, last=last)


def working_copy(where: Location) -> Path:
    """A node-local path for a file of an S3 sweep that a library needs as a
    local file (the Optuna journal): ``<cache>/sweeps/<hash of the URI>/<name>``."""
    return cache_dir() / "sweeps" / _cache_name(where.uri) / where.name


__all__ = [
    "Location",
    "cache_dir",
    "is_remote",
    "local_copy",
    "s3_client",
    "s3_endpoint",
    "s3_filesystem",
    "s3_region",
    "staged_dir",
    "storage_problem",
    "working_copy",
]
