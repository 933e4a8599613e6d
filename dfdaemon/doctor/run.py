"""Which checks run, against what: the target is built from the dfdaemon's own configuration."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dfdaemon.doctor.containerd import check_containerd
from dfdaemon.doctor.docker import check_docker
from dfdaemon.doctor.findings import SKIP, Finding, Target
from dfdaemon.doctor.podman import check_podman
from dfdaemon.doctor.reach import check_mirror, check_supernodes

RUNTIMES = ("docker", "containerd", "podman")


@dataclass
class Paths:
    docker_config: str = "/etc/docker/daemon.json"
    containerd_config: str = "/etc/containerd/config.toml"
    containerd_certs: str = ""                         # "" = the config_path containerd's config names
    registries_conf: str = "/etc/containers/registries.conf"


@dataclass
class Options:
    paths: Paths = field(default_factory=Paths)
    runtimes: tuple = ()                               # () = each runtime whose configuration directory exists
    registries: tuple = ()                             # () = docker.io and every registry the dfdaemon lists
    mirror_url: str = ""                               # "" = from the dfdaemon's host_ip, port and certpem
    check_network: bool = True


def mirror_url_of(config) -> str:
    host = config.host_ip if config.host_ip not in ("", "0.0.0.0", "::") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if config.certpem else 'http'}://{host}:{config.port}"


def target_of(config, options: Options) -> Target:
    target = Target(mirror_url=(options.mirror_url or mirror_url_of(config)).rstrip("/"))
    listed = []
    for upstream in config.registries:
        netloc = urlsplit(upstream.url).netloc
        name = upstream.name or netloc
        listed.append(netloc)
        for known in {netloc, name, *upstream.aliases}:
            target.path_names[known] = name
            target.servers[known] = upstream.url.rstrip("/")
    target.registries = list(options.registries) or list(dict.fromkeys(["docker.io"] + listed))
    return target


def _present(runtime: str, paths: Paths) -> bool:
    files = {"docker": paths.docker_config, "containerd": paths.containerd_config, "podman": paths.registries_conf}
    return os.path.isdir(os.path.dirname(files[runtime]))


def run_checks(config, options: Options) -> list[Finding]:
    target = target_of(config, options)
    paths = options.paths
    out = []
    for runtime in RUNTIMES:
        if options.runtimes and runtime not in options.runtimes:
            continue
        if not options.runtimes and not _present(runtime, paths):
            out.append(Finding(runtime, SKIP, "not installed here (no configuration directory); "
                               f"name it with --runtime {runtime} to check anyway"))
        elif runtime == "docker":
            out.extend(check_docker(paths.docker_config, target))
        elif runtime == "containerd":
            out.extend(check_containerd(paths.containerd_config, paths.containerd_certs, target))
        else:
            out.extend(check_podman(paths.registries_conf, target))
    if options.check_network:
        verify = config.supernode_ca[0] if config.supernode_ca else True
        out.extend(check_supernodes(config.node_list, config.supernode_scheme, verify))
        out.append(check_mirror(target.mirror_url, verify=False if target.mirror_url.startswith("https") else True))
    return out
