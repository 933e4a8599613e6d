#!/usr/bin/env bash
# Build the dfpy image (supernode, dfdaemon, dfget) without any image registry:
#   1. a Debian root file system from Debian packages with mmdebstrap (cached in build/image/),
#   2. `docker import` of that tarball as the base image (skipped when the base tag exists),
#   3. the project's and its dependencies' wheels into the build context (pip, from the package index),
#   4. `docker build` of Dockerfile on top, tagged with the chart's default image (dfpy:<appVersion>).
# Environment: IMAGE_TAG (default dfpy:<appVersion of helm/Chart.yaml>), DEBIAN_SUITE (bookworm),
# DEBIAN_MIRROR (mmdebstrap's default when empty), PYTHON (.venv/bin/python), DOCKER_HOST (docker's own).
# Exit codes: 0 built, 2 no docker daemon answers, 3 the Debian base could not be built (packages
# unreachable or mmdebstrap missing), anything else a failed step.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-}
VERSION=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' helm/Chart.yaml)
TAG=${IMAGE_TAG:-dfpy:$VERSION}
OUT=build/image
PACKAGES=python3,python3-venv,ca-certificates
BASE_TAR=$OUT/base-$SUITE.tar
BASE_TAG=dfpy-base:$SUITE-$(printf '%s %s' "$SUITE" "$PACKAGES" | sha256sum | cut -c1-12)

if ! docker version >/dev/null 2>&1; then
  echo "build_image: no docker daemon answers (set DOCKER_HOST or start dockerd)" >&2
  exit 2
fi
mkdir -p "$OUT"
if ! docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  if [ ! -s "$BASE_TAR" ]; then
    if ! command -v mmdebstrap >/dev/null; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "build_image: installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null \
          || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null; } \
          || { echo "build_image: cannot install mmdebstrap" >&2; exit 3; }
      else
        echo "build_image: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2
        exit 3
      fi
    fi
    echo "build_image: building the Debian $SUITE base with mmdebstrap"
    # shellcheck disable=SC2086 # MIRROR is empty or one URL
    if ! mmdebstrap --variant=minbase --format=tar --include="$PACKAGES" \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        "$SUITE" "$BASE_TAR.partial" $MIRROR >"$OUT/mmdebstrap.log" 2>&1; then
      tail -n 20 "$OUT/mmdebstrap.log" >&2
      rm -f "$BASE_TAR.partial"
      echo "build_image: the Debian base could not be built (are Debian packages reachable?)" >&2
      exit 3
    fi
    mv "$BASE_TAR.partial" "$BASE_TAR"
  fi
  echo "build_image: importing $BASE_TAR as $BASE_TAG"
  docker import --change 'CMD ["/bin/sh"]' "$BASE_TAR" "$BASE_TAG" >/dev/null
fi

CONTEXT=$OUT/context
rm -rf "$CONTEXT"
mkdir -p "$CONTEXT/wheels"
# The dependencies are resolved for the base image's Python, not another one: markers such as
# python_full_version < "3.11.3" differ between patch releases. A Python of the same version on this host
# (BUILD_PYTHON, default Debian's /usr/bin/python3) builds them in a venv of its own; without one, pip downloads
# binary wheels for the image's version and platform, with markers evaluated for $PYTHON (a warning says so).
read -r PYVER GLIBC ARCH < <(docker run --rm --network none "$BASE_TAG" python3 -c \
  'import platform; print(platform.python_version(), platform.libc_ver()[1].replace(".", "_"), platform.machine())')
BUILD_PYTHON=${BUILD_PYTHON:-/usr/bin/python3}
echo "build_image: wheels of dfpy and its dependencies for Python $PYVER (manylinux_${GLIBC}_$ARCH)"
if [ -x "$BUILD_PYTHON" ] && [ "$("$BUILD_PYTHON" -c 'import platform; print(platform.python_version())')" = "$PYVER" ]; then
  if [ ! -x "$OUT/pyenv/bin/pip" ]; then
    "$BUILD_PYTHON" -m venv "$OUT/pyenv"
    "$OUT/pyenv/bin/pip" install --quiet --upgrade pip wheel
  fi
  "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$CONTEXT/wheels" .
  "$OUT/pyenv/bin/pip" wheel --quiet --disable-pip-version-check --wheel-dir "$CONTEXT/wheels" \
    "$CONTEXT"/wheels/dfpy-*.whl
else
  echo "build_image: warning: no Python $PYVER here; dependency markers are evaluated for $PYTHON" >&2
  "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$CONTEXT/wheels" .
  platforms=()
  for minor in $(seq "${GLIBC#2_}" -1 17); do platforms+=(--platform "manylinux_2_${minor}_$ARCH"); done
  platforms+=(--platform "manylinux2014_$ARCH" --platform "manylinux2010_$ARCH" --platform "manylinux1_$ARCH")
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: --dest "$CONTEXT/wheels" \
    --python-version "$PYVER" --implementation cp "${platforms[@]}" "$CONTEXT"/wheels/dfpy-*.whl
fi
cp image/healthcheck "$CONTEXT/healthcheck"
echo "build_image: docker build -t $TAG"
docker build --quiet --build-arg BASE="$BASE_TAG" --build-arg VERSION="$VERSION" -t "$TAG" -f Dockerfile "$CONTEXT"
echo "build_image: built $TAG"
