"""Every key of every config tree (supernode, dfdaemon, dfget's file config), nested sections and list items
included, is documented: a new key without docs fails here.

``docs/configuration.md`` is the index. A nested key ``section.key`` is documented either by that dotted name in
configuration.md, or, for the sections configuration.md hands to a page of their own, by ``key`` in that page.
Keys that were removed fail loudly when an old config sets them (see ``REMOVED_KEYS``) and must not be offered.
"""
from __future__ import annotations

import dataclasses
import os
import re
import typing

import pytest

from dfdaemon.cli.dfget_config import DfgetFileConfig
from dfdaemon.config import DfdaemonConfig
from supernode.config import SupernodeConfig

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs")

# section (dotted prefix) -> the page that documents its keys, as configuration.md says
SECTION_PAGES = {
    "supernode": {"preheat": "harbor.md", "webhooks": "webhooks.md", "policies": "policies.md"},
    "dfdaemon": {"": "dfdaemon.md"},
    "dfget": {"": "configuration.md"},
}
TREES = {"supernode": SupernodeConfig, "dfdaemon": DfdaemonConfig, "dfget": DfgetFileConfig}


def read(page: str) -> str:
    with open(os.path.join(DOCS, page), encoding="utf-8") as f:
        return f.read()


def leaves(cls, prefix: str = ""):
    """(dotted name, field) of every leaf key; list items of a dataclass type are walked as ``name[].key``."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint, name = hints[f.name], prefix + f.name
        args = typing.get_args(hint)
        if dataclasses.is_dataclass(hint):
            yield from leaves(hint, name + ".")
        elif args and dataclasses.is_dataclass(args[0]):
            yield from leaves(args[0], name + "[].")
        else:
            yield name, f


def spellings(leaf: str, f) -> set[str]:
    camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), leaf)
    return {leaf, camel, *(f.metadata or {}).get("aliases", ())}


def documented(tree: str, name: str, f) -> bool:
    """``name`` (``a.b[].c``) is in configuration.md with its full dotted name, or in its section's page under
    the name without the section (``b[].c``), or, on a page for the whole tree or the section, as ``c``."""
    parent, _, leaf = name.rpartition(".")
    names = spellings(leaf, f)
    parents = {parent, re.sub(r"_(\w)", lambda m: m.group(1).upper(), parent)}
    full = {f"`{p + '.' if p else ''}{n}`" for n in names for p in parents}
    index = read("configuration.md")
    if any(token in index for token in full | {t.replace("[]", "") for t in full}):
        return True
    pages = SECTION_PAGES[tree]
    section = name.split(".")[0] if parent else ""
    page = pages.get(section) or pages.get("")
    if page is None:
        return False
    text = read(page)
    inner = parent.split(".", 1)[1] if section in pages and "." in parent else ("" if section in pages else parent)
    tokens = {f"`{inner + '.' if inner else ''}{n}`" for n in names}
    if any(t in text for t in tokens | {t.replace("[]", "") for t in tokens}):
        return True
    if "[]" in name:      # a list item: a table row of the list (`registries[]`) naming the key
        row_key = f"`{inner}`"
        return any(row_key in line and any(f"`{n}`" in line for n in names) for line in text.splitlines())
    return any(f"`{n}`" in text for n in names)


@pytest.mark.parametrize("tree", sorted(TREES))
def test_every_key_of_the_tree_is_documented(tree):
    missing = [name for name, f in leaves(TREES[tree]) if not documented(tree, name, f)]
    assert not missing, f"undocumented {tree} keys: {missing}"


@pytest.mark.parametrize("tree", sorted(TREES))
def test_removed_keys_are_not_fields(tree):
    cls = TREES[tree]
    fields = {f.name for f in dataclasses.fields(cls)}
    assert not fields & set(getattr(cls, "REMOVED_KEYS", {}))
