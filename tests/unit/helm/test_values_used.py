"""Every key in helm/values.yaml is read by some template: changing it changes the rendered chart.

For each leaf value (a scalar, a list, or a map the schema leaves free-form) the test renders the chart once with
the value as shipped and once with a different value that still passes values.schema.json, on top of each value set
in chart_render.VALUE_SETS in turn (some values only matter when a feature is on). A key whose change alters no
rendered file under any value set is a value nothing reads, and the test names it.
"""
from __future__ import annotations

import copy
import json
import re
import shutil

import pytest
import yaml

helm = pytest.importorskip(
    "helm_python", reason="helm-python-sdk is not installed (pip install helm-python-sdk; part of the test extra)")

from tests.unit.helm.chart_render import CHART_DIR, VALUE_SETS, render  # noqa: E402

# Values that are empty by default and need a sample of the shape the schema wants.
SAMPLES = {
    "imagePullSecrets": [{"name": "pull"}],
    "supernode.extraEnv": [{"name": "X", "value": "1"}],
    "dfdaemon.extraEnv": [{"name": "X", "value": "1"}],
    "supernode.tolerations": [{"operator": "Exists"}],
    "dfdaemon.tolerations": [{"operator": "Exists"}],
    "supernode.affinity": {"podAntiAffinity": {}},
    "dfdaemon.affinity": {"podAntiAffinity": {}},
    "dfdaemon.config": {"registry_mirror": {"remote": "https://r.example.com"}},
    "dfdaemon.nodes": ["sn1.example.com:8002"],
    "ingress.tls": [{"secretName": "tls", "hosts": ["sn.example.com"]}],
}
STRING_CANDIDATES = ("{v}x", "x", "7M", "7s", "/x", "Always", "redis://r.example.com:6379/0")


def schema_node(schema, path):
    node = schema
    for part in path:
        props = node.get("properties", {})
        node = props[part] if part in props else node.get("additionalProperties", {})
        if not isinstance(node, dict):
            return {}
    return node


def leaves(values, schema, path=()):
    """(dotted path, value) for every value the test changes on its own."""
    for key, value in values.items():
        here = path + (key,)
        if isinstance(value, dict) and value and "properties" in schema_node(schema, here):
            yield from leaves(value, schema, here)
        else:
            yield here, value


def changed(path, value, node):
    dotted = ".".join(path)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value - 1 if value + 1 > node.get("maximum", value + 1) else value + 1
    if isinstance(value, str):
        if "enum" in node:
            return next(e for e in node["enum"] if e != value)
        for template in STRING_CANDIDATES:
            candidate = template.format(v=value)
            if candidate != value and re.search(node.get("pattern", ""), candidate) \
                    and len(candidate) >= node.get("minLength", 0):
                return candidate
    if isinstance(value, list):
        if not value:
            if dotted in SAMPLES:
                return SAMPLES[dotted]
            if node.get("items", {}).get("type") == "string":
                return ["x"]
        return value + value[:1] if len(value) <= node.get("minItems", 0) else value[:-1]
    if isinstance(value, dict):
        if value:   # change the first entry (helm merges a map with the defaults, so a dropped key comes back)
            key, first = next(iter(value.items()))
            return {**value, key: changed(path + (key,), first, schema_node(node, (key,)))}
        if dotted in SAMPLES:
            return SAMPLES[dotted]
        return {"example.com/x": "y"}
    raise AssertionError(f"no way to change {dotted}={value!r}: add a sample to SAMPLES")


def merged(base, override):
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def nested(path, value):
    out = value
    for part in reversed(path):
        out = {part: out}
    return out


def lookup(values, path):
    for part in path:
        values = values[part]
    return values


def _renders_differently(chart, values, expected) -> bool:
    """A changed value alters the output, or a template refuses it (``fail``): either way a template reads it."""
    try:
        return render(chart, values) != expected
    except helm.errors.HelmRenderError:
        return True


def unused_keys(chart, chart_dir) -> tuple[list[str], int]:
    defaults = yaml.safe_load((chart_dir / "values.yaml").read_text())
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    bases = [VALUE_SETS["default"]] + [v for k, v in sorted(VALUE_SETS.items()) if k != "default"]
    base_renders = [render(chart, base) for base in bases]
    unused, checked = [], 0
    for path, _ in leaves(defaults, schema):
        checked += 1
        node = schema_node(schema, path)
        for base, expected in zip(bases, base_renders):
            current = lookup(merged(defaults, base), path)
            if _renders_differently(chart, merged(base, nested(path, changed(path, current, node))), expected):
                break
        else:
            unused.append(".".join(path))
    return unused, checked


def test_every_value_key_is_read_by_a_template(chart):
    unused, checked = unused_keys(chart, CHART_DIR)
    assert checked > 50
    assert unused == [], f"values.yaml keys no template reads: {unused}"


def test_a_key_no_template_reads_is_named(tmp_path):
    copy_dir = tmp_path / "chart"
    shutil.copytree(CHART_DIR, copy_dir)
    values = (copy_dir / "values.yaml").read_text()
    (copy_dir / "values.yaml").write_text(values.replace("supernode:\n", "supernode:\n  forgotten: 3\n", 1))
    schema = json.loads((copy_dir / "values.schema.json").read_text())
    schema["properties"]["supernode"]["properties"]["forgotten"] = {"type": "integer"}
    (copy_dir / "values.schema.json").write_text(json.dumps(schema))
    unused, _ = unused_keys(helm.Chart.load(str(copy_dir)), copy_dir)
    assert unused == ["supernode.forgotten"]
