"""The ASGI application of `cellsrun web`: routes, the login, and two middlewares.

- :class:`Headers` adds to every response a strict Content-Security-Policy (scripts, styles,
  images and connections from this origin only; no inline script or style element, no frames,
  no plugins), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
  ``X-Frame-Options: DENY`` and ``Cache-Control: no-store`` (logs are not for caches).
- :class:`Gate` lets through only requests carrying the session cookie (see auth), plus the
  login itself and the stylesheet its form uses. Both are plain ASGI middlewares, so that
  streamed exports and event streams pass through unbuffered.

Errors: an :class:`~cellsrun.web.api.ApiError` is JSON ``{"error": ...}`` with its status; any
other exception is logged on the server's stderr and answered 500 ``{"error": "internal
error"}`` — the client never sees a traceback.
"""

from __future__ import annotations

import html
import importlib.resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cellsrun.web import auth
from cellsrun.web.api import Api, ApiError
from cellsrun.web.signing import Signer

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
MAX_FORM = 4096


class Headers:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k for k, _ in SECURITY_HEADERS}
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = dict(message, headers=headers + SECURITY_HEADERS)
            await send(message)
        await self.app(scope, receive, send_with_headers)


class Gate:
    def __init__(self, app, checker: auth.Auth):
        self.app = app
        self.auth = checker

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or auth.is_public(scope["path"]) or self.auth.cookie_ok(scope):
            return await self.app(scope, receive, send)
        if scope["path"].startswith("/api/"):
            response = JSONResponse({"error": "authentication required: open the login URL that "
                                     "`cellsrun web` printed"}, status_code=401)
        else:
            response = login_form(401)
        await response(scope, receive, send)


def login_form(status: int, message: str = "") -> HTMLResponse:
    note = f'<p class="login-error">{html.escape(message)}</p>' if message else ""
    return HTMLResponse(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cells logs — log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/style.css"></head>
<body class="login"><form class="login-box" method="post" action="/login">
<h1>Cells logs</h1>
<p>Open the login URL that <code>cellsrun web</code> printed, or paste the token kept in
<code>&lt;working dir&gt;/run/web.token</code>.</p>{note}
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form></body></html>""", status_code=status)


def _logged_in(checker: auth.Auth, secure: bool) -> Response:
    # A page of our own (not a redirect) moves on to "/": a same-site navigation, so the
    # SameSite=Strict cookie goes along even when the login URL was opened from elsewhere.
    response = HTMLResponse("""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0;url=/"><title>Cells logs</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body class="login"><p class="login-box">Logged in. <a href="/">Open the logs</a>.</p></body></html>""")
    checker.set_cookie(response, secure)
    return response


def static_dir() -> str:
    return str(importlib.resources.files("cellsrun.web") / "static")


def create_app(log_dir: str, name: str, token: str, dirs=None) -> Headers:
    """The application serving ``log_dir`` (live file ``name`` and its archives); or, with
    ``dirs`` (--dir values: directories, globs), every directory they name, merged by time."""
    checker = auth.Auth(token)
    if dirs is not None:
        from cellsrun.web.hosts import HostsApi
        api = HostsApi(dirs, name, Signer(token))
    else:
        api = Api(log_dir, name, Signer(token))
    static = static_dir()

    async def index(request):
        return FileResponse(f"{static}/index.html", media_type="text/html; charset=utf-8")

    async def login(request):
        secure = request.url.scheme == "https"
        if request.method == "POST":
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_FORM:
                    return login_form(413, "The form is too large.")
            if checker.ok(auth.form_token(body)):
                return _logged_in(checker, secure)
            return login_form(401, "Wrong token.")
        token = request.query_params.get("token")
        if token is None:
            return login_form(200) if not checker.cookie_ok(request.scope) else _logged_in(checker, secure)
        if checker.ok(token):
            return _logged_in(checker, secure)
        return login_form(401, "Wrong or outdated login URL.")

    async def logout(request):
        response = login_form(200, "Logged out.")
        response.delete_cookie(auth.COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def api_error(request, exc: ApiError):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    async def http_error(request, exc: HTTPException):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return Response(exc.detail, status_code=exc.status_code, media_type="text/plain")

    async def internal_error(request, exc: Exception):
        # uvicorn logs the traceback on the server's stderr; the client gets none
        return JSONResponse({"error": "internal error (see the server's log)"}, status_code=500)

    async def favicon(request):
        # Browsers ask for it at every load (no-store), the login form's page too (it is
        # public): an empty answer, not a 404 in the log each time.
        return Response(status_code=204)

    routes = [
        Route("/", index),
        Route("/favicon.ico", favicon),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/entries", api.entries),
        Route("/api/entry", api.entry),
        Route("/api/stats", api.stats),
        Route("/api/export.csv", lambda request: api.export(request, "csv")),
        Route("/api/export.ndjson", lambda request: api.export(request, "ndjson")),
        Route("/api/events", api.events),
        Mount("/static", StaticFiles(directory=static)),
    ]
    app = Starlette(routes=routes, exception_handlers={
        ApiError: api_error, HTTPException: http_error, Exception: internal_error})
    return Headers(Gate(app, checker))
