"""podman / CRI-O / skopeo / buildah: a ``[[registry.mirror]]`` on the dfdaemon in registries.conf (v2)."""
from __future__ import annotations

import glob
import os
import tomllib

from dfdaemon.doctor.findings import FIX, OK, Finding, Target

CHECK = "podman"


def load_registries(path: str) -> list[tuple[str, dict]]:
    """Every ``[[registry]]`` table of the file and of its ``registries.conf.d`` drop-ins, in reading order."""
    files = [path] + sorted(glob.glob(os.path.join(os.path.dirname(path), "registries.conf.d", "*.conf")))
    out = []
    for name in files:
        if os.path.exists(name):
            with open(name, "rb") as f:
                out.extend((name, r) for r in tomllib.load(f).get("registry", []))
    return out


def _find(entries, registry):
    """The entry the client uses for ``registry`` (a later one with the same prefix wins, as in drop-ins)."""
    found = None
    for name, entry in entries:
        if (entry.get("prefix") or entry.get("location")) == registry:
            found = (name, entry)
    return found


def check_podman(path: str, target: Target) -> list[Finding]:
    try:
        entries = load_registries(path)
    except (OSError, tomllib.TOMLDecodeError) as e:
        return [Finding(CHECK, FIX, f"{path} or a drop-in is not valid TOML ({e})", path)]
    return [_check_registry(entries, path, registry, target) for registry in target.registries]


def _check_registry(entries, path, registry, target: Target) -> Finding:
    name = target.path_name(registry)
    mirror = f"{target.mirror_host}/{name}"
    snippet = (f'[[registry]]\nprefix = "{registry}"\nlocation = "{registry}"\n\n'
               f'[[registry.mirror]]\nlocation = "{mirror}"\n' + ("insecure = true\n" if target.mirror_insecure
                                                                else ""))
    if ":" in name:
        return Finding(CHECK, FIX, f"the dfdaemon knows {registry} by a name with a port, which cannot be a path "
                       f"prefix: give it a port-less name in the dfdaemon's registries (name: ..., url: ...)", path)
    found = _find(entries, registry)
    if found is None:
        return Finding(CHECK, FIX, f"no [[registry]] for {registry} in {path}: add it", path, snippet)
    where, entry = found
    locations = {m.get("location", "").rstrip("/"): m for m in entry.get("mirror", [])}
    hit = locations.get(mirror) or (locations.get(target.mirror_host) if registry == "docker.io" else None)
    if hit is None:
        return Finding(CHECK, FIX, f"the [[registry]] for {registry} in {where} has no mirror {mirror}", where,
                       snippet)
    if target.mirror_insecure and not hit.get("insecure", False):
        return Finding(CHECK, FIX, f"the mirror {hit['location']} for {registry} in {where} needs insecure = true "
                       "(the dfdaemon serves plain HTTP)", where, snippet)
    return Finding(CHECK, OK, f"{registry} goes through {hit['location']} ({where})", where)
