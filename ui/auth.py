"""Login: users from a file or the environment, passwords stored as scrypt hashes.

Login is required whenever the server listens on a non-loopback address, and on loopback
too with ``serve.py --login always`` (``serve.login``: shared machines). Browsers log
in with HTTP Basic (one prompt, then the browser resends it); API clients send Basic, or
``Authorization: Bearer NAME:PASSWORD`` (what the ``openai`` package sends as its api_key).

Users file (JSON, written by ``python serve.py users add NAME``)::

    {"alice": {"role": "reader", "hash": "scrypt$16384$8$1$<salt>$<key>"}}

``FOLIO_USERS_FILE`` names another file; ``FOLIO_USERS`` holds ``name:role:hash`` entries
separated by commas (for containers and CI secrets). Roles: ``reader`` (ask, read, flag a
citation) and ``reviewer`` (also edit in the Review tab and its API).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROLES = ("reader", "reviewer")
_N, _R, _P = 2**14, 8, 1


class AuthError(ValueError):
    """A users file or entry that cannot be used."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    hash: str


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, key = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(key)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, bytes.fromhex(key))


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_users(users_file: Path | None) -> dict[str, User]:
    users: dict[str, User] = {}
    path = Path(os.environ["FOLIO_USERS_FILE"]) if os.environ.get("FOLIO_USERS_FILE") else users_file
    if path is not None and path.exists():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise AuthError(f"{path}: not a readable users file: {e}") from e
        for name, entry in raw.items():
            users[name] = _user(name, entry.get("role", "reader"), entry.get("hash", ""), str(path))
    for item in filter(None, (os.environ.get("FOLIO_USERS") or "").split(",")):
        name, _, rest = item.strip().partition(":")
        role, _, hashed = rest.partition(":")
        users[name] = _user(name, role, hashed, "FOLIO_USERS")
    return users


def _user(name: str, role: str, hashed: str, where: str) -> User:
    if role not in ROLES:
        raise AuthError(f"{where}: user {name!r}: role {role!r} is not one of {', '.join(ROLES)}")
    if not hashed.startswith("scrypt$"):
        raise AuthError(f"{where}: user {name!r}: password must be stored as a scrypt hash "
                        "(`python serve.py users add NAME` writes one), never in clear")
    return User(name, role, hashed)


def add_user(path: Path, name: str, password: str, role: str) -> None:
    if role not in ROLES:
        raise AuthError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not name or ":" in name or "," in name:
        raise AuthError("user name: must be non-empty, without ':' or ','")
    raw = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    raw[name] = {"role": role, "hash": hash_password(password)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    # Created 0600: the hashes are never readable by other local users, not even for the
    # moment between writing and a chmod.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(raw, indent=1))
    tmp.replace(path)


class Authenticator:
    """Checks an Authorization header against the users.

    - Successful checks are cached (scrypt costs ~50 ms by design, and a browser resends
      Basic credentials with every request).
    - scrypt runs in a small thread pool of its own, never on the event loop: six clients
      with wrong passwords used to slow every request of everyone 100x.
    - An unknown user name costs one scrypt too (against a dummy hash), so the answer's
      timing does not tell which names exist.
    - Failures are logged (user, address) and counted per user and per address: after
      ``max_failures`` in a row the next attempts are refused (429) for a backoff that
      doubles with each further failure, up to 15 minutes. A success clears the count.
    """

    def __init__(self, users: dict[str, User], max_failures: int = 5, base_backoff_s: float = 30.0) -> None:
        self.users = users
        self._ok: dict[str, User] = {}
        self._dummy = hash_password(secrets.token_hex(16))
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="folio-scrypt")
        self.max_failures, self.base_backoff_s = max_failures, base_backoff_s
        self._fails: dict[str, tuple[int, float]] = {}  # key -> (failures, blocked until)

    def user(self, authorization: str | None) -> User | None:
        """Synchronous check (tests, scripts); the server uses ``check``."""
        cred = self._parse(authorization)
        return None if cred is None else self._verify(*cred)

    async def check(self, authorization: str | None, address: str) -> User | None:
        """The user, None (no or wrong credentials), or ``LoginThrottled``."""
        if not authorization:
            return None
        if authorization in self._ok:
            return self._ok[authorization]
        cred = self._parse(authorization)
        name = cred[0] if cred else ""
        wait = max(self._blocked(f"user:{name}"), self._blocked(f"addr:{address}"))
        if wait > 0:
            raise LoginThrottled(wait)
        user = None
        if cred is not None:
            user = await asyncio.get_running_loop().run_in_executor(self._pool, self._verify, *cred)
        if user is None:
            log.warning("failed login for user %r from %s", name[:64], address)
            self._fail(f"user:{name}")
            self._fail(f"addr:{address}")
            return None
        self._fails.pop(f"user:{name}", None)
        self._fails.pop(f"addr:{address}", None)
        if len(self._ok) > 1000:
            self._ok.clear()
        self._ok[authorization] = user
        return user

    @staticmethod
    def _parse(authorization: str | None) -> tuple[str, str] | None:
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                value = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
        elif scheme.lower() != "bearer":
            return None
        name, _, password = value.partition(":")
        return name, password

    def _verify(self, name: str, password: str) -> User | None:
        user = self.users.get(name)
        ok = verify_password(password, user.hash if user else self._dummy)
        return user if ok and user is not None else None

    def _blocked(self, key: str) -> float:
        n, until = self._fails.get(key, (0, 0.0))
        return max(0.0, until - time.monotonic()) if n >= self.max_failures else 0.0

    def _fail(self, key: str) -> None:
        n, _ = self._fails.get(key, (0, 0.0))
        n += 1
        backoff = min(900.0, self.base_backoff_s * 2 ** max(0, n - self.max_failures))
        self._fails[key] = (n, time.monotonic() + backoff if n >= self.max_failures else 0.0)
        if len(self._fails) > 10_000:  # a flood of names or addresses: forget the oldest
            for k in list(self._fails)[:5_000]:
                del self._fails[k]


class LoginThrottled(Exception):
    """Too many failed logins for this user or address (429 with Retry-After)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins; try again in {math.ceil(retry_after)} s")
        self.retry_after = math.ceil(retry_after)
