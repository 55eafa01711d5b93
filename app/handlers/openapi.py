"""The OpenAPI 3 document, built from the handlers' own ``openapi`` descriptions, and a docs page."""

from __future__ import annotations

import re

import tornado.web

from app.handlers.base import BaseHandler

METHODS = ("get", "post", "put", "patch", "delete")

COMPONENTS = {
    "schemas": {
        "Camera": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "url": {"type": "string", "description": "credentials masked"},
                "kind": {"type": "string"},
                "status": {"type": "string", "enum": ["connecting", "live", "reconnecting", "failed", "stopped"]},
                "reason": {"type": "string"},
                "fps": {"type": "number"},
                "frames": {"type": "integer"},
                "dropped": {"type": "integer"},
                "last_frame_age": {"type": "number", "nullable": True},
                "radiometric": {"type": "boolean"},
                "temperature": {
                    "type": "object",
                    "nullable": True,
                    "description": "min/mean/max of the latest frame in its unit; null for picture-only sources",
                    "properties": {"min": {"type": "number"}, "mean": {"type": "number"}, "max": {"type": "number"},
                                   "unit": {"type": "string", "enum": ["°C", "counts"]}},
                },
                "temperature_unit": {"type": "string", "nullable": True, "enum": ["°C", "counts", None],
                                     "description": "°C, counts (uncalibrated sensor), or null (pictures only)"},
            },
        },
        "Error": {"type": "object", "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}},
    }
}


def openapi_path(pattern: str) -> str:
    """Turn a Tornado regex route into an OpenAPI path: ``/api/cameras/(?P<cid>\\d+)`` → ``/api/cameras/{cid}``."""
    path = pattern.rstrip("$").lstrip("^")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", path).replace("\\.", ".")
    return path


def build_spec(routes: list[tuple], version: str) -> dict:
    paths: dict[str, dict] = {}
    for pattern, handler, *_ in routes:
        described = {m: op for m, op in getattr(handler, "openapi", {}).items() if m in METHODS}
        if not described:
            continue
        path = openapi_path(pattern)
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in re.findall(r"{(\w+)}", path)
        ]
        ops = {}
        for method, op in described.items():
            op = dict(op)
            named = {p["name"] for p in op.get("parameters", [])}
            op["parameters"] = op.get("parameters", []) + [p for p in params if p["name"] not in named]
            op.setdefault("operationId", f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}")
            ops[method] = op
        paths[path] = ops
    return {
        "openapi": "3.0.3",
        "info": {"title": "ThermalStream API", "version": version},
        "paths": paths,
        "components": COMPONENTS,
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
