"""containerd: ``config_path`` in config.toml and one ``hosts.toml`` per registry naming the mirror."""
from __future__ import annotations

import os
import tomllib

from dfdaemon.doctor.findings import FIX, OK, Finding, Target

CHECK = "containerd"
# containerd 1.x (config version 2) and 2.x (config version 3) keep the registry table in different plugins.
REGISTRY_TABLES = (("io.containerd.grpc.v1.cri", "registry"), ("io.containerd.cri.v1.images", "registry"))


def _load(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


CONTAINERD2_DEFAULT = "/etc/containerd/certs.d:/etc/docker/certs.d"   # config version 3 without config_path


def config_path_of(conf: dict) -> str:
    plugins = conf.get("plugins", {})
    for plugin, table in REGISTRY_TABLES:
        value = plugins.get(plugin, {}).get(table, {}).get("config_path")
        if value:
            return value
    return CONTAINERD2_DEFAULT if conf.get("version") == 3 else ""


def check_containerd(config_file: str, certs_dir: str, target: Target) -> list[Finding]:
    """``certs_dir`` is what ``config_path`` should be; "" takes it from the config file."""
    out = []
    configured = ""
    if os.path.exists(config_file):
        try:
            configured = config_path_of(_load(config_file))
        except (OSError, tomllib.TOMLDecodeError) as e:
            return [Finding(CHECK, FIX, f"{config_file} is not valid TOML ({e})", config_file)]
    listed = [os.path.normpath(p) for p in configured.split(":") if p]     # config_path may list several
    certs_dir = certs_dir or (listed[0] if listed else "/etc/containerd/certs.d")
    if not configured:
        out.append(Finding(CHECK, FIX, f"{config_file} sets no registry config_path: the CRI plugin ignores "
                           f"{certs_dir} (ctr and nerdctl need --hosts-dir {certs_dir}); add it and restart "
                           "containerd", config_file,
                           f'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n'
                           f'  config_path = "{certs_dir}"\n'))
    elif os.path.normpath(certs_dir) not in listed:
        out.append(Finding(CHECK, FIX, f"config_path is {configured!r}, not {certs_dir}", config_file))
    else:
        out.append(Finding(CHECK, OK, f"config_path is {configured}", config_file))
    for registry in target.registries:
        out.append(_check_hosts(certs_dir, registry, target))
    return out


def _check_hosts(certs_dir: str, registry: str, target: Target) -> Finding:
    own = os.path.join(certs_dir, registry, "hosts.toml")
    path = own if os.path.exists(own) else os.path.join(certs_dir, "_default", "hosts.toml")
    wanted = target.mirror_url
    snippet = (f'server = "{target.server(registry)}"\n\n[host."{wanted}"]\n'
               f'  capabilities = ["pull", "resolve"]\n')
    if not os.path.exists(path):
        return Finding(CHECK, FIX, f"no hosts.toml for {registry}: create {own}", own, snippet)
    try:
        hosts = _load(path).get("host", {})
    except (OSError, tomllib.TOMLDecodeError) as e:
        return Finding(CHECK, FIX, f"{path} is not valid TOML ({e})", path, snippet)
    entry = next((v for k, v in hosts.items() if k.rstrip("/") == wanted), None)
    if entry is None:
        return Finding(CHECK, FIX, f"{path} has no [host.\"{wanted}\"] for {registry}", path, snippet)
    caps = set(entry.get("capabilities", ["pull", "resolve", "push"]))
    if not {"pull", "resolve"} <= caps:
        return Finding(CHECK, FIX, f"{path}: the mirror host needs capabilities [\"pull\", \"resolve\"] "
                       f"(has {sorted(caps)})", path, snippet)
    return Finding(CHECK, OK, f"{registry} goes through {wanted} ({path})", path)
