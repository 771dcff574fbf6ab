# The hub image: `cygnet hub` (JupyterHub, configurable-http-proxy, cygnet-shares, the idle
# culler) with DockerSpawner, built on the session image so both hold the same Cygnet.
#   docker build -f docker/Dockerfile -t cygnet .
#   docker build -f docker/hub.Dockerfile -t cygnet-hub .
# docker/compose.hub.yaml runs it with docker/hub_config.py.
ARG SESSION_IMAGE=cygnet
FROM ${SESSION_IMAGE}
USER root
# DockerSpawner at the version the test lock pins (its settings are tested in
# tests/test_hub_spawners.py).
RUN /opt/cygnet/.venv/bin/pip install --no-cache-dir -c /opt/cygnet/requirements-test.lock dockerspawner
WORKDIR /srv/cygnet
ENV CYGNET_DATA_DIR=/srv/cygnet
EXPOSE 8000
CMD ["cygnet", "hub", "--ip=0.0.0.0", "--port=8000", "-f", "/opt/cygnet/docker/hub_config.py"]
