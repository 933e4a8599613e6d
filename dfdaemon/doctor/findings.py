"""What a doctor check reports, and what it checks against."""
from __future__ import annotations

from dataclasses import dataclass, field

OK, FIX, FAIL, SKIP = "ok", "fix", "fail", "skip"


@dataclass(frozen=True)
class Finding:
    check: str                    # docker, containerd, podman, supernode, mirror
    status: str                   # ok | fix (a file to change) | fail (something unreachable) | skip
    message: str
    path: str = ""                # the file the finding is about
    fix: str = ""                 # text to write into it


@dataclass
class Target:
    """The mirror the runtimes should use and the registries they should send through it."""
    mirror_url: str               # scheme://host:port of the dfdaemon mirror
    registries: list = field(default_factory=lambda: ["docker.io"])
    path_names: dict = field(default_factory=dict)     # registry -> name the dfdaemon knows it by (path prefix)
    servers: dict = field(default_factory=dict)        # registry -> URL containerd falls back to

    @property
    def mirror_host(self) -> str:
        return self.mirror_url.split("://", 1)[1]

    @property
    def mirror_insecure(self) -> bool:
        return self.mirror_url.startswith("http://")

    def path_name(self, registry: str) -> str:
        return self.path_names.get(registry, registry)

    def server(self, registry: str) -> str:
        if registry in self.servers:
            return self.servers[registry]
        return "https://registry-1.docker.io" if registry == "docker.io" else f"https://{registry}"
