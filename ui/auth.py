"""Login: users from a file or the environment, passwords stored as scrypt hashes.

Login is required whenever the server listens on a non-loopback address. Browsers log
in with HTTP Basic (one prompt, then the browser resends it); API clients send Basic, or
``Authorization: Bearer NAME:PASSWORD`` (what the ``openai`` package sends as its api_key).

Users file (JSON, written by ``python serve.py users add NAME``)::

    {"alice": {"role": "reader", "hash": "scrypt$16384$8$1$<salt>$<key>"}}

``FOLIO_USERS_FILE`` names another file; ``FOLIO_USERS`` holds ``name:role:hash`` entries
separated by commas (for containers and CI secrets). Roles: ``reader`` (ask, read, flag a
citation) and ``reviewer`` (also edit in the Review tab and its API).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

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
    tmp.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


class Authenticator:
    """Checks an Authorization header against the users; caches successful checks (scrypt
    costs ~50 ms by design, and a browser resends Basic credentials with every request)."""

    def __init__(self, users: dict[str, User]) -> None:
        self.users = users
        self._ok: dict[str, User] = {}

    def user(self, authorization: str | None) -> User | None:
        if not authorization:
            return None
        if authorization in self._ok:
            return self._ok[authorization]
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                value = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
        elif scheme.lower() != "bearer":
            return None
        name, _, password = value.partition(":")
        user = self.users.get(name)
        if user is None or not verify_password(password, user.hash):
            return None
        if len(self._ok) > 1000:
            self._ok.clear()
        self._ok[authorization] = user
        return user
