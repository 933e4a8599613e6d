# The dfpy image: supernode, dfdaemon and dfget in one Python environment, run as user 1000.
#
# Built by `make image` (scripts/build_image.sh), which needs no image registry: BASE is a Debian root file
# system made with mmdebstrap and loaded with `docker import`, and the build context holds the project's
# wheel and its dependencies' wheels, so nothing is downloaded while the image is built.
ARG BASE=dfpy-base:bookworm
FROM ${BASE}

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="dfpy" \
      org.opencontainers.image.description="P2P image and file distribution: supernode, dfdaemon, dfget" \
      org.opencontainers.image.version="${VERSION}"

COPY wheels/ /tmp/wheels/
COPY healthcheck /usr/local/bin/dfpy-healthcheck
RUN python3 -m venv /opt/dfpy \
 && /opt/dfpy/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels dfpy \
 && rm -rf /tmp/wheels \
 && chmod 0755 /usr/local/bin/dfpy-healthcheck \
 && groupadd --gid 1000 dragonfly \
 && useradd --uid 1000 --gid 1000 --home-dir /home/admin --create-home --shell /usr/sbin/nologin dragonfly \
 && install -d -o 1000 -g 1000 /home/admin/supernode /var/lib/dfdaemon /etc/dragonfly

# DFPY_HEALTH_URL: what the health check asks; the supernode's /_ping by default, a dfdaemon container sets
# http://127.0.0.1:65001/_ping (or its --port).
ENV PATH=/opt/dfpy/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DFPY_HEALTH_URL=http://127.0.0.1:8002/_ping
USER 1000:1000
WORKDIR /home/admin
EXPOSE 8001 8002 65001
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 CMD ["/usr/local/bin/dfpy-healthcheck"]
CMD ["supernode"]
