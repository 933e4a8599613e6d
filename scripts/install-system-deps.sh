#!/usr/bin/env bash
# Install the Debian packages the test-suite drives (real registry, pull clients, redis, netns tools, nginx as
# the piece server of the Go supernode in the interoperability tests).
# Only what is missing is installed; nothing is started here (fixtures start what they need).
set -euo pipefail
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v redis-server >/dev/null || need+=(redis-server)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v dockerd >/dev/null || need+=(docker.io)
command -v ctr >/dev/null || need+=(containerd)
command -v podman >/dev/null || need+=(podman)
command -v ip >/dev/null || need+=(iproute2)
command -v tc >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${need[*]} (install them as root with apt-get; tests needing them will be skipped)" >&2
  exit 0
fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
