"""Who is asking, from what the login guard put on the request (ui/guard.py)."""

from __future__ import annotations

from starlette.requests import Request

REVIEWER = "reviewer"


def user_of(request: Request) -> str:
    return getattr(request.state, "user", None) or "local"


def can_edit(request: Request) -> bool:
    """Without login (loopback) the local user reviews; with login only the reviewer role."""
    role = getattr(request.state, "role", None)
    return role is None or role == REVIEWER
