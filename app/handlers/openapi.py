"""The OpenAPI 3 document, built from the handlers' own ``openapi`` descriptions, and a docs page."""

from __future__ import annotations

import copy
import re

import tornado.web

from app import access
from app.handlers.base import BaseHandler
from app.handlers.api_models import Camera, Error
from app.handlers.schema import MODELS, model_ref, to_openapi

METHODS = ("get", "post", "put", "patch", "delete")

# components every document has; models used by handlers (app.handlers.schema.op) join them
CORE_MODELS = (Error, Camera)
ERROR_REF = {"application/json": {"schema": model_ref(Error)}}


def openapi_path(pattern: str) -> str:
    """Turn a Tornado regex route into an OpenAPI path: ``/api/cameras/(?P<cid>\\d+)`` → ``/api/cameras/{cid}``."""
    path = pattern.rstrip("$").lstrip("^")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", path).replace("\\.", ".")
    return path


def path_parameters(pattern: str) -> list[dict]:
    """Typed path parameters from the route's regex: digits are integers, alternatives an enum."""
    params = []
    for name, regex in re.findall(r"\(\?P<(\w+)>([^)]*)\)", pattern):
        if regex in ("[0-9]+", r"\d+"):
            schema: dict = {"type": "integer", "minimum": 0}
        elif re.fullmatch(r"[a-z_-]+(\|[a-z_-]+)+", regex):
            schema = {"type": "string", "enum": regex.split("|")}
        else:
            schema = {"type": "string", "pattern": f"^{regex}$"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def media_of(path: str) -> dict:
    """What a 2xx answer without a declared body carries, from the path (files and streams)."""
    binary = {"type": "string", "format": "binary"}
    if path.endswith(".jpg"):
        return {"image/jpeg": {"schema": binary}}
    if path.endswith(".mp4") or "/segments/" in path:
        return {"video/mp4": {"schema": binary}}
    if path.endswith("/mjpeg"):
        return {"multipart/x-mixed-replace": {"schema": binary}}
    if path.endswith("/download"):
        return {"application/octet-stream": {"schema": binary}}
    return {"application/json": {"schema": {}}}


COMMON_ERRORS = {"400": "Bad request (the message says why)", "401": "Not signed in, or the token is not valid",
                 "403": "Your role may not do this", "404": "No such object (or not yours to see)",
                 "413": "Request body too large", "503": "The database is unreachable (the reason is given)"}


def complete(op: dict, path: str, public: bool, has_ids: bool) -> dict:
    """Every response described with a schema; the errors every route can give; security."""
    op = to_openapi(copy.deepcopy(op))
    responses = op.setdefault("responses", {})
    wanted = ["503"]
    if not public:  # ids in the path, the query or the body may name nothing this user may see
        wanted += ["401", "403", "404"]
    elif has_ids:
        wanted.append("404")
    if "requestBody" in op:
        wanted += ["400", "413"]
    for code in wanted:
        responses.setdefault(code, {"description": COMMON_ERRORS[code]})
    for code, resp in responses.items():
        if "content" in resp or code in ("204", "304") or code.startswith("3"):
            continue
        resp["content"] = ERROR_REF if code[0] in "45" else media_of(path)
    if public:
        op["security"] = []
    return op


SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "An access token from POST /api/auth/token"},
    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "user",
                   "description": "The signed login cookie of the browser pages (state changes must be same-origin)"},
}


def build_spec(routes: list[tuple], version: str) -> dict:
    for model in CORE_MODELS:
        model_ref(model)
    paths: dict[str, dict] = {}
    for pattern, handler, *_ in routes:
        described = {m: op for m, op in getattr(handler, "openapi", {}).items() if m in METHODS}
        if not described:
            continue
        path = openapi_path(pattern)
        params = path_parameters(pattern)
        ops = {}
        for method, op in described.items():
            public = access.ROUTES.get(pattern, {}).get(method.upper()) == access.PUBLIC
            op = complete(op, path, public, bool(params))
            named = {p["name"] for p in op.get("parameters", [])}
            op["parameters"] = op.get("parameters", []) + [p for p in params if p["name"] not in named]
            op.setdefault("operationId", f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}")
            ops[method] = op
        paths[path] = ops
    return {
        "openapi": "3.0.3",
        "info": {"title": "ThermalStream API", "version": version},
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": paths,
        "components": {"schemas": dict(sorted(MODELS.items())),
                       "securitySchemes": SECURITY_SCHEMES},
    }


class OpenAPIHandler(BaseHandler):
    openapi = {
        "get": {"summary": "This OpenAPI document", "tags": ["system"], "responses": {"200": {"description": "OpenAPI 3"}}}
    }

    def initialize(self, runtime, route: str, routes: list[tuple]) -> None:
        super().initialize(runtime, route)
        self.routes = routes

    def get(self) -> None:
        self.write_json(build_spec(self.routes, self.runtime.version))


class DocsHandler(tornado.web.RequestHandler):
    """/api/docs: a self-contained page (no CDN) that lists every route and can try GET and POST calls."""

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(DOCS_HTML)


DOCS_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>ThermalStream API</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
.op{border:1px solid #ddd;border-radius:6px;margin:.6em 0;padding:.6em}
.m{display:inline-block;width:5em;font-weight:bold;text-transform:uppercase}
.get{color:#1565c0}.post{color:#2e7d32}.delete{color:#c62828}
pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:20em}textarea{width:100%;height:4em}</style></head>
<body><h1>ThermalStream API</h1><p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a></p>
<div id="ops">Loading…</div>
<script>
const esc = s => String(s).replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
fetch('/api/openapi.json').then(r => r.json()).then(spec => {
  const root = document.getElementById('ops'); root.innerHTML = '';
  for (const [path, ops] of Object.entries(spec.paths)) for (const [m, op] of Object.entries(ops)) {
    const d = document.createElement('div'); d.className = 'op';
    const params = (op.parameters || []).filter(p => p.in === 'path').map(p => p.name);
    d.innerHTML = `<span class="m ${m}">${m}</span><code>${esc(path)}</code> — ${esc(op.summary || '')}
      <div>${params.map(p => `<label>${esc(p)} <input data-p="${esc(p)}" size="8"></label>`).join(' ')}</div>
      ${op.requestBody ? '<textarea placeholder="JSON body"></textarea>' : ''}
      <button>Try</button><pre hidden></pre>`;
    d.querySelector('button').onclick = async () => {
      let url = path; d.querySelectorAll('input[data-p]').forEach(i => url = url.replace('{' + i.dataset.p + '}', encodeURIComponent(i.value)));
      const body = d.querySelector('textarea')?.value;
      const r = await fetch(url, {method: m.toUpperCase(), headers: body ? {'Content-Type': 'application/json'} : {}, body: body || undefined});
      const out = d.querySelector('pre'); out.hidden = false;
      const type = r.headers.get('content-type') || '';
      out.textContent = r.status + ' ' + r.statusText + '\\n' + (type.includes('json') ? JSON.stringify(await r.json(), null, 2) : type);
    };
    root.appendChild(d);
  }
});
</script></body></html>"""
