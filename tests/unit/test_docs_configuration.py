"""docs/configuration.md documents every supernode config key (a new key without docs fails here)."""
import dataclasses
import os

from supernode.config import SupernodeConfig

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "configuration.md")


def test_every_supernode_key_is_documented():
    text = open(DOC, encoding="utf-8").read()
    missing = [f.name for f in dataclasses.fields(SupernodeConfig)
               if not dataclasses.is_dataclass(f.type) and f"`{f.name}`" not in text
               and f.name not in ("preheat", "webhooks", "policies")]
    assert not missing, f"undocumented supernode keys: {missing}"
