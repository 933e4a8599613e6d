"""dockerd's ``daemon.json``: the mirror in ``registry-mirrors`` (Docker Hub names only)."""
from __future__ import annotations

import json
import os

from dfdaemon.doctor.findings import FIX, OK, Finding, Target

CHECK = "docker"


def check_docker(path: str, target: Target) -> list[Finding]:
    wanted = target.mirror_url
    if not os.path.exists(path):
        return [Finding(CHECK, FIX, f"{path} does not exist: create it and restart dockerd", path,
                        json.dumps({"registry-mirrors": [wanted]}, indent=2))]
    try:
        with open(path, encoding="utf-8") as f:
            conf = json.load(f)
    except (OSError, ValueError) as e:
        return [Finding(CHECK, FIX, f"{path} is not valid JSON ({e}): dockerd will not start with it", path)]
    if not isinstance(conf, dict):
        return [Finding(CHECK, FIX, f"{path} must hold a JSON object", path)]
    mirrors = conf.get("registry-mirrors") or []
    if not isinstance(mirrors, list):
        return [Finding(CHECK, FIX, f"{path}: registry-mirrors must be a list", path)]
    out = []
    normal = [str(m).rstrip("/") for m in mirrors]
    if wanted in normal:
        out.append(Finding(CHECK, OK, f"registry-mirrors has {wanted}", path))
    else:
        near = [m for m in normal if m.split("://", 1)[-1].split("/", 1)[0] == target.mirror_host]
        why = (f"registry-mirrors has {near[0]!r}, which is not the bare mirror URL {wanted} (no path, same scheme)"
               if near else f"registry-mirrors does not name the dfdaemon mirror {wanted}")
        fixed = dict(conf, **{"registry-mirrors": [wanted] + [m for m in mirrors if str(m).rstrip("/") not in near]})
        out.append(Finding(CHECK, FIX, why + "; then restart dockerd", path, json.dumps(fixed, indent=2)))
    insecure = conf.get("insecure-registries") or []
    host = target.mirror_host
    if target.mirror_url.startswith("https://") and host in insecure:
        out.append(Finding(CHECK, FIX, f"insecure-registries names the https mirror {host}: dockerd then skips "
                           "certificate checks of the dfdaemon; remove it and trust the mirror's CA instead", path))
    return out
