"""Typed API edges: pydantic models give the OpenAPI schema of a body or an answer and validate
request bodies, so the document, the validation and the handler read the same definition.

>>> class TokenRequest(BaseModel): username: str; password: str
>>> openapi = {"post": op("Log in", "auth", body=TokenRequest, ok=TokenPair, public=True)}
>>> req = parse_model(self.json_body(), TokenRequest)       # 400 naming the field when invalid

:func:`to_openapi` turns JSON Schema (what pydantic writes, draft 2020-12) into OpenAPI 3.0.3:
``nullable`` instead of ``null`` types, boolean ``exclusiveMinimum``, ``enum`` for ``const``,
``#/components/schemas`` references. The document builder runs it over every handler's
description, so hand-written ``openapi`` dicts are converted too.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from app.handlers.base import ApiError

REF = "#/components/schemas/"
MODELS: dict[str, dict] = {}  # component name -> OpenAPI schema, filled by model_ref()


def to_openapi(node: Any) -> Any:
    """A JSON Schema (or any dict/list holding schemas) in OpenAPI 3.0.3 form."""
    if isinstance(node, list):
        return [to_openapi(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = _null_option(node)
    out = {k: to_openapi(v) for k, v in node.items() if k not in ("$defs", "$schema", "examples")}
    if "examples" in node and isinstance(node["examples"], list) and node["examples"]:
        out.setdefault("example", node["examples"][0])
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#/$defs/"):
        out["$ref"] = REF + out["$ref"][len("#/$defs/"):]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(bound)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[plain], out[bound] = value, True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if isinstance(out.get("type"), list):
        listed = out.pop("type")
        types = [t for t in listed if t != "null"]
        if len(types) < len(listed):
            out["nullable"] = True
        if len(types) == 1:
            out["type"] = types[0]
        elif types:
            out["anyOf"] = [{"type": t} for t in types]
    if out.get("type") == "null":
        out.pop("type")
        out["nullable"], out["enum"] = True, [None]
    if "prefixItems" in out:
        items = out.pop("prefixItems")
        out.setdefault("items", {"anyOf": items} if items else {})
        out.setdefault("minItems", len(items))
        out.setdefault("maxItems", len(items))
    if out.get("type") == "array" and "items" not in out:
        out["items"] = {}
    return out


def _null_option(node: dict) -> dict:
    """``anyOf: [X, {type: null}]`` → X with ``nullable: true``; with a $ref (which takes no
    siblings in 3.0) or several options, the null option becomes a nullable ``enum: [null]``."""
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            node = {k: v for k, v in node.items() if k != key}
            if len(rest) == 1 and "$ref" not in rest[0]:
                node = {**rest[0], **node, "nullable": True}
            else:  # 3.0 has no null type: an option that is only null
                node[key] = [*rest, {"type": "object", "nullable": True, "enum": [None]}]
    return node


def model_ref(model: type[BaseModel]) -> dict:
    """``{"$ref": ...}`` to ``model``'s schema; the schema (and the models it uses) become components."""
    if model.__name__ not in MODELS:
        schema = model.model_json_schema(ref_template=REF + "{model}", mode="serialization")
        for name, sub in schema.pop("$defs", {}).items():
            MODELS.setdefault(name, to_openapi(sub))
        MODELS[model.__name__] = to_openapi(schema)
    return {"$ref": REF + model.__name__}


def json_content(schema: dict | type[BaseModel]) -> dict:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        schema = model_ref(schema)
    return {"application/json": {"schema": schema}}


def op(summary: str, tag: str, *, ok: type[BaseModel] | dict | None = None, status: int = 200,
       body: type[BaseModel] | None = None, errors: dict[int, str] | None = None, description: str = "",
       public: bool = False, parameters: list[dict] | None = None,
       error_model: type[BaseModel] | None = None) -> dict:
    """One operation for a handler's ``openapi`` attribute, from typed models. Errors carry the
    shared ``Error`` body unless ``error_model`` says otherwise."""
    responses: dict[str, dict] = {str(status): {"description": (ok.__doc__ or "OK").strip().splitlines()[0]
                                               if isinstance(ok, type) else "OK"}}
    if ok is not None:
        responses[str(status)]["content"] = json_content(ok)
    for code, text in (errors or {}).items():
        responses[str(code)] = {"description": text}
        if error_model is not None:
            responses[str(code)]["content"] = json_content(error_model)
    out: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if description:
        out["description"] = description
    if body is not None:
        out["requestBody"] = {"required": True, "content": json_content(body)}
    if public:
        out["security"] = []
    if parameters:
        out["parameters"] = parameters
    return out


def parse_model(body: dict, model: type[BaseModel]):
    """Validate a parsed JSON body with ``model``; 400 naming the first bad field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        raise ApiError(400, f"field '{where}': {err.get('msg', 'invalid')}") from None
