"""Where a shared index lives: a local folder or an object-store prefix (``s3://bucket/prefix``).

The LanceDB tables go through LanceDB's own object-store support (``storage_options``);
the few small files beside them (run lock, run reports, the documents snapshot, the
``run.dirty`` marker, picture crops) go through ``Blobs``: files under the index folder,
or objects under the prefix. Per-machine state that cannot live on an object store (the
enrichment cache and chat sessions, both SQLite; partition scratch files) stays in the
pipeline's local folder (``Pipeline.index``, a cache folder for a remote index).

Credentials never come from pipelines.toml: the standard AWS environment variables
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``,
``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``) fill the options; the pipeline may add the
non-secret ones (endpoint, region, allow_http).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from folio.errors import ConfigError

SCHEMES = ("s3://", "gs://", "az://")

# storage_options keys (LanceDB / object_store spelling) -> the environment variables read.
ENV_OPTIONS = {
    "aws_access_key_id": ("AWS_ACCESS_KEY_ID",),
    "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "aws_session_token": ("AWS_SESSION_TOKEN",),
    "aws_region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "aws_endpoint": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "allow_http": ("AWS_ALLOW_HTTP",),
}
SECRET_OPTIONS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
ALLOWED_OPTIONS = ("aws_region", "aws_endpoint", "allow_http", "timeout", "connect_timeout")


# (key, size, last-modified) of an object; named here because the classes below have a
# method called "list" that shadows the builtin inside their bodies
Listing = list[tuple[str, int, float]]


def is_uri(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(SCHEMES)


def check_options(options: dict[str, str], where: str) -> None:
    """Configured storage options: non-secret keys only (credentials come from the environment)."""
    for key in options:
        if key.lower() in SECRET_OPTIONS:
            env = ENV_OPTIONS[key.lower()][0]
            raise ConfigError(f"{where}.{key}: credentials are never read from pipelines.toml; set {env}")
        if key.lower() not in ALLOWED_OPTIONS:
            raise ConfigError(f"{where}.{key}: unknown storage option; allowed: {', '.join(ALLOWED_OPTIONS)}")


def resolve_options(configured: dict[str, str] | None = None) -> dict[str, str]:
    """The environment's options, then the pipeline's (which win: they name this index's store)."""
    out: dict[str, str] = {}
    for key, names in ENV_OPTIONS.items():
        for name in names:
            if os.environ.get(name):
                out[key] = os.environ[name]
                break
    out.update({k.lower(): str(v) for k, v in (configured or {}).items()})
    return out


def without_secrets(options: dict[str, str] | None) -> dict[str, str] | None:
    """The options but the credentials: what may travel to another machine's process,
    which resolves its own (``resolve_options`` there: its environment, else what Lance's
    credential chain finds, e.g. an instance role)."""
    if options is None:
        return None
    return {k: v for k, v in options.items() if k.lower() not in SECRET_OPTIONS}


def local_cache_for(uri: str) -> Path:
    """The per-machine folder of a remote index (enrichment cache, sessions, scratch, crops)."""
    base = Path(os.environ.get("FOLIO_CACHE_DIR") or Path.home() / ".cache" / "folio") / "remote"
    safe = uri.split("://", 1)[0] + "/" + uri.split("://", 1)[1].strip("/")
    return base / safe


class Blobs(Protocol):
    """Small files beside the index, by key (a relative path with "/")."""

    where: str

    def read(self, key: str) -> bytes | None: ...
    def write(self, key: str, data: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def create(self, key: str, data: bytes) -> str | None: ...
    def replace(self, key: str, data: bytes, tag: str) -> str | None: ...
    def read_tagged(self, key: str) -> tuple[bytes, str] | None: ...


class LocalBlobs:
    """Files under a folder; ``create``/``replace`` are only used by the object lock (a local
    index is locked with a kernel lock, pipeline/lock.py) but work here too."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.where = str(self.root)

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except OSError:
            return None

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def list(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        try:
            return sorted(prefix.rstrip("/") + "/" + n for n in os.listdir(folder))
        except OSError:
            return []

    def create(self, key: str, data: bytes) -> str | None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return None
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return _tag(data)

    def replace(self, key: str, data: bytes, tag: str) -> str | None:
        current = self.read_tagged(key)
        if current is None or current[1] != tag:
            return None
        self.write(key, data)
        return _tag(data)

    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        data = self.read(key)
        return None if data is None else (data, _tag(data))


def _tag(data: bytes) -> str:
    import hashlib

    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class S3Blobs:
    """Objects under ``s3://bucket/prefix`` (boto3; the same options LanceDB gets).
    ``create`` is a conditional put (If-None-Match: *) and ``replace`` one on the ETag
    (If-Match): S3 and compatible stores (moto, MinIO) refuse them with 412 when another
    writer got there first, which is what makes the run lock safe across machines."""

    def __init__(self, uri: str, options: dict[str, str]) -> None:
        import boto3
        from botocore.config import Config

        bucket, _, prefix = uri[len("s3://"):].partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.where = uri
        endpoint = options.get("aws_endpoint")
        self.client: Any = boto3.client(
            "s3", endpoint_url=endpoint, region_name=options.get("aws_region") or "us-east-1",
            aws_access_key_id=options.get("aws_access_key_id"),
            aws_secret_access_key=options.get("aws_secret_access_key"),
            aws_session_token=options.get("aws_session_token"),
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _missing(self, e: Exception) -> bool:
        code = getattr(e, "response", {}).get("Error", {}).get("Code")
        return code in ("NoSuchKey", "404", "NotFound")

    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        from botocore.exceptions import ClientError

        try:
            r = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as e:
            if self._missing(e):
                return None
            raise
        return r["Body"].read(), r["ETag"]

    def read(self, key: str) -> bytes | None:
        got = self.read_tagged(key)
        return None if got is None else got[0]

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as e:
            if self._missing(e):
                return False
            raise
        return True

    def list(self, prefix: str) -> list[str]:
        full = self._key(prefix.rstrip("/") + "/")
        out: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            out += [o["Key"][len(self._key("")):] for o in page.get("Contents", [])]
        return sorted(out)

    def list_stat(self, prefix: str = "") -> Listing:
        """(key relative to the prefix, size, last-modified as a Unix time) of every object."""
        base = self._key("")
        full = self._key(prefix.strip("/") + "/") if prefix.strip("/") else (base.rstrip("/") + "/" if base else "")
        out: Listing = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            for o in page.get("Contents", []):
                out.append((o["Key"][len(full):], int(o["Size"]), o["LastModified"].timestamp()))
        return sorted(out)

    def download(self, key: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        self.client.download_file(self.bucket, self._key(key), str(tmp))
        os.replace(tmp, target)

    def _conditional(self, key: str, data: bytes, **cond: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            r = self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **cond)
        except ClientError as e:
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (409, 412) or e.response.get("Error", {}).get("Code") in (
                "PreconditionFailed", "ConditionalRequestConflict"
            ):
                return None
            raise
        return str(r["ETag"])

    def create(self, key: str, data: bytes) -> str | None:
        return self._conditional(key, data, IfNoneMatch="*")

    def replace(self, key: str, data: bytes, tag: str) -> str | None:
        return self._conditional(key, data, IfMatch=tag)


def blobs_for(location: str | Path, options: dict[str, str] | None = None) -> Blobs:
    if isinstance(location, Path) or not is_uri(location):
        return LocalBlobs(Path(location))
    if location.startswith("s3://"):
        return S3Blobs(location.rstrip("/"), resolve_options(options))
    raise ConfigError(f"{location}: only s3:// (and S3-compatible stores) are supported for an index so far")
