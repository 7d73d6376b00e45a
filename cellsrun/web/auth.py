"""Who may read the logs: one random token, given once through a login URL, then a cookie.

- The token lives in ``<home>/run/web.token`` (mode 0600, made at first start with
  :func:`secrets.token_urlsafe`, never overwritten). Whoever can read that file — the account
  that runs cellsrun — can log in.
- ``GET /login?token=...`` (the URL ``cellsrun web`` prints) or the login form (``POST /login``)
  checks the token in constant time and sets it in an HttpOnly, SameSite=Strict cookie (Secure
  when the request came over HTTPS, e.g. through a TLS reverse proxy).
- Every other request needs that cookie; without it (or with a wrong one) the answer is 401:
  JSON for the API, the login form for a page.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from urllib.parse import parse_qs

from cellsrun.errors import RuntimeFailure

COOKIE = "cellsrun_session"
TOKEN_FILE = "web.token"
MAX_AGE = 30 * 86400
PUBLIC = ("/static/style.css", "/favicon.ico")  # what the login form itself needs


def token_path(home: str) -> str:
    return os.path.join(home, "run", TOKEN_FILE)


def load_or_make_token(home: str) -> str:
    """The token of ``<home>/run/web.token``, made (0600, in a 0750 run dir) if missing. A
    token file that is not a regular file of ours, or is readable by others, is refused."""
    path = token_path(home)
    run_dir = os.path.dirname(path)
    os.makedirs(run_dir, mode=0o750, exist_ok=True)
    _check_run_dir(run_dir)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_token(path)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    return _read_token(path)


def _check_run_dir(run_dir: str) -> None:
    """The runtime dir holds the token: refused, like ``start`` refuses it, when it is not a
    directory of this user (or root) or when others can write it (they could swap the token)."""
    st = os.lstat(run_dir)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (os.geteuid(), 0):
        raise RuntimeFailure(f"refusing the runtime dir {run_dir}: it must be a directory of this "
                             f"user (not a symlink, not another user's)")
    if st.st_mode & 0o022:
        raise RuntimeFailure(f"the runtime dir {run_dir} is writable by others (mode "
                             f"{stat.S_IMODE(st.st_mode):04o}): another user could swap the page's "
                             f"token; fix it with `chmod go-w {run_dir}`")


def _read_token(path: str) -> str:
    try:
        # O_NONBLOCK: a FIFO put in place of the token is refused below, not waited on.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise RuntimeFailure(f"cannot read the token file {path}: {e.strerror}") from None
    with os.fdopen(fd) as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise RuntimeFailure(f"refusing the token file {path}: it must be a regular file of "
                                 f"this user with mode 0600 (chmod 600, or remove it to make a new one)")
        token = f.read(4096).strip()
    if len(token) < 16:
        raise RuntimeFailure(f"the token file {path} holds no usable token (remove it to make a new one)")
    return token


class Auth:
    """Checks requests against one token (constant-time comparison)."""

    def __init__(self, token: str):
        self._token = token.encode()

    def ok(self, candidate: str | None) -> bool:
        if not candidate:
            return False
        return hmac.compare_digest(candidate.encode("utf-8", "replace"), self._token)

    def cookie_ok(self, scope) -> bool:
        return self.ok(_cookie(scope, COOKIE))

    def set_cookie(self, response, secure: bool) -> None:
        response.set_cookie(COOKIE, self._token.decode(), max_age=MAX_AGE, path="/", httponly=True,
                            samesite="strict", secure=secure)


def _cookie(scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v
    return None


def form_token(body: bytes) -> str | None:
    """The ``token`` field of an urlencoded login form (bounded: the body is read capped)."""
    values = parse_qs(body.decode("utf-8", "replace"), max_num_fields=5).get("token")
    return values[0].strip() if values else None


def is_public(path: str) -> bool:
    return path in PUBLIC or path == "/login"
