"""Extract the schemas the fake HubSpot checks itself against from HubSpot's CRM v3 OpenAPI descriptions.

    python -m tests.fakes.extract_hubspot_schema [path/to/reference/hubspot]

The descriptions are `shared/reference/hubspot/{deals,pipelines,crmOwners,notes}.json` (OpenAPI 3.0.1). The
result, `hubspot_schemas.json`, is committed so that the tests run on a clean clone without them;
`tests/test_hubspot_fake.py` checks that it still matches them whenever they are at hand. Each
description's `components.schemas` is kept whole, its `$ref`s pointing into `$defs`, with the sha256 of
the file it came from.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SCHEMA_FILE = HERE / "hubspot_schemas.json"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "hubspot"
FILES = {"deals": "deals.json", "pipelines": "pipelines.json", "owners": "crmOwners.json",
         "notes": "notes.json"}
PREFIX = "#/components/schemas/"


def rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: ("#/$defs/" + v[len(PREFIX):] if k == "$ref" and isinstance(v, str) and v.startswith(PREFIX)
                    else rewrite(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite(item) for item in node]
    return node


def extract(reference: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, file in FILES.items():
        text = (reference / file).read_text()
        spec = json.loads(text)
        out[name] = {"$comment": f"components.schemas of {file} sha256 {hashlib.sha256(text.encode()).hexdigest()}",
                     "$defs": rewrite(spec["components"]["schemas"])}
    return out


def main() -> None:
    reference = Path(sys.argv[1]) if len(sys.argv) > 1 else REFERENCE
    SCHEMA_FILE.write_text(json.dumps(extract(reference), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SCHEMA_FILE}")


if __name__ == "__main__":
    main()
