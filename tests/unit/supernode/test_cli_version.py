"""``supernode --version`` and ``supernode version`` print the version JSON and exit 0 (no server starts)."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers import script


@pytest.mark.parametrize("arg", ["--version", "version"])
def test_version_prints_json(arg):
    run = subprocess.run([script("supernode"), arg], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    assert info["Version"] == "0.1.0" and info["OS"] == "linux"
