"""Extract what the fake Pipedrive answers and accepts from Pipedrive's API v2 description.

    python -m tests.fakes.extract_pipedrive_schema [path/to/pipedrive-openapi-v2.yml]

The description is `shared/reference/pipedrive-openapi-v2.yml` (OpenAPI 3.0.1). The result,
`pipedrive_schemas.json`, is committed so that the tests run on a clean clone without it;
`tests/test_pipedrive_fake.py` checks that it still matches the description whenever that is at hand.

For each operation the backend uses: its token cost (`x-token-cost`), its query parameters (name ->
schema), its request body's schema and its 200 answer's schema; and the error envelope (`success`,
`error`, `error_info`: the description's 404 schema). OpenAPI 3.0's `nullable: true` (or a description
saying the value "will be `null`", as `next_cursor`'s does on the last page) becomes a JSON Schema `null`
type, an `allOf` of objects is merged into one, and every object with named properties is closed
(`additionalProperties: false`): the fake may answer with no field the description does not name.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SCHEMA_FILE = HERE / "pipedrive_schemas.json"
SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "pipedrive-openapi-v2.yml"
OPERATIONS = {
    "getPipelines": ("/pipelines", "get"),
    "getStages": ("/stages", "get"),
    "getDeals": ("/deals", "get"),
    "addDeal": ("/deals", "post"),
    "getDeal": ("/deals/{id}", "get"),
    "updateDeal": ("/deals/{id}", "patch"),
    "deleteDeal": ("/deals/{id}", "delete"),
}
ERROR_FROM = ("/deals/{id}/convert/status/{conversion_id}", "get", "404")
DROP = ("description", "example", "title")


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: nullable as a type, allOf merged, objects closed."""
    if isinstance(node, list):
        return [json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "allOf" in node and all(isinstance(p, dict) and ("properties" in p or p.get("type") == "object")
                               for p in node["allOf"]):
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        for part in node.pop("allOf"):
            merged["properties"].update(part.get("properties") or {})
            merged["required"] = sorted({*merged.get("required", []), *part.get("required", [])})
        if not merged["required"]:
            del merged["required"]
        node = {**merged, **{k: v for k, v in node.items() if k not in ("type", "properties")}}
    out = {k: json_schema(v) for k, v in node.items() if k not in DROP and k != "nullable"}
    if "properties" in node:
        out["properties"] = {k: json_schema(v) for k, v in node["properties"].items()}
        out.setdefault("additionalProperties", False)
    said_null = "be `null`" in str(node.get("description")) or "will be null" in str(node.get("description"))
    if (node.get("nullable") or said_null) and "type" in out:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def extract(spec_text: str) -> dict[str, Any]:
    import yaml

    spec = yaml.safe_load(spec_text)
    operations: dict[str, Any] = {}
    for name, (path, method) in OPERATIONS.items():
        operation = spec["paths"][path][method]
        assert operation["operationId"] == name, (name, operation["operationId"])
        body = (operation.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
        operations[name] = {
            "path": path, "method": method.upper(), "cost": operation.get("x-token-cost"),
            "params": {p["name"]: json_schema(p["schema"]) for p in operation.get("parameters", [])
                       if p["in"] == "query"},
            "body": json_schema(body) if body else None,
            "response": json_schema(operation["responses"]["200"]["content"]["application/json"]["schema"]),
        }
    path, method, code = ERROR_FROM
    error = spec["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]
    return {
        "$comment": "from pipedrive-openapi-v2.yml sha256 " + hashlib.sha256(spec_text.encode()).hexdigest(),
        "security": spec["components"]["securitySchemes"]["api_key"],
        "operations": operations,
        "error": json_schema(error),
    }


def main() -> None:
    spec = Path(sys.argv[1]) if len(sys.argv) > 1 else SPEC
    SCHEMA_FILE.write_text(json.dumps(extract(spec.read_text()), indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {SCHEMA_FILE}")


if __name__ == "__main__":
    main()
