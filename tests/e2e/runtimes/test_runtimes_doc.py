"""Every configuration block in docs/runtimes.md is well-formed: TOML (hosts.toml, registries.conf,
containerd config), JSON (daemon.json) parse, and each YAML block loads as a dfdaemon configuration
(unknown keys and bad values are errors there), proxy rules included."""
from __future__ import annotations

import json
import os
import re
import textwrap
import tomllib

import pytest
import yaml

from dfdaemon.config import load_config
from dfdaemon.proxy.config import parse_proxies

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "runtimes.md")
FENCE = re.compile(r"^([ \t]*)```(\w+)\n(.*?)^\1```", re.S | re.M)


def blocks(lang: str) -> list[str]:
    with open(DOC) as f:
        text = f.read()
    return [textwrap.dedent(body) for _, kind, body in FENCE.findall(text) if kind == lang]


def test_doc_has_every_runtime_form():
    assert len(blocks("toml")) >= 5 and blocks("json") and len(blocks("yaml")) >= 4 and blocks("ini")


@pytest.mark.parametrize("body", blocks("toml"))
def test_toml_blocks_parse(body):
    doc = tomllib.loads(body)
    for host in doc.get("host", {}).values():
        assert set(host.get("capabilities", [])) <= {"pull", "resolve", "push"}
    for reg in doc.get("registry", []):
        assert reg["prefix"] and reg["location"] and all(m["location"] for m in reg.get("mirror", []))


@pytest.mark.parametrize("body", blocks("json"))
def test_json_blocks_parse(body):
    doc = json.loads(body)
    assert all(m.startswith(("http://", "https://")) for m in doc.get("registry-mirrors", []))


@pytest.mark.parametrize("body", blocks("yaml"))
def test_yaml_blocks_are_valid_dfdaemon_configs(body, tmp_path):
    path = tmp_path / "dfdaemon.yml"
    path.write_text(body)
    assert isinstance(yaml.safe_load(body), dict)
    conf = load_config(str(path), environ={})
    parse_proxies(conf.proxies)
