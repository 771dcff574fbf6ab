#!/usr/bin/env bash
# `make test-image`: build the session image with podman from a Debian base made here by
# debootstrap (no registry is reachable), run it, and check that `cygnet up` in it serves
# JupyterLab and Cygnet's API. Slow (a first build installs everything: about 15 minutes), so
# it is not part of `make test`. Podman's work-arounds for these machines: chroot isolation, the
# runc runtime, explicit ulimits (containers.conf below), host networking for the build.
set -euo pipefail
cd "$(dirname "$0")/.."
source docker/sysdeps.sh
need_image_tools

work=${CYGNET_IMAGE_WORK:-/var/tmp/cygnet-image}
mkdir -p "$work"
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$work/containers.conf"

base=localhost/cygnet-base:bookworm
if ! podman image exists "$base"; then
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
  mirror=${mirror:-$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
  echo "cygnet: making a Debian 12 base image from ${mirror:-the default mirror}" >&2
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs" ${mirror:+"$mirror"} >"$work/debootstrap.log"
  tar -C "$work/rootfs" -c . | podman import - "$base"
  rm -rf "$work/rootfs"
fi

echo "cygnet: building localhost/cygnet:test" >&2
# The host's CA bundle goes in too: on networks whose HTTPS is inspected, pip and npm need it.
ca=/etc/ssl/certs/ca-certificates.crt
podman build --isolation=chroot --network=host --build-arg BASE="$base" \
  -v "$ca:/etc/ssl/host-ca.crt:ro" --build-arg EXTRA_CA=/etc/ssl/host-ca.crt \
  -f docker/Dockerfile -t localhost/cygnet:test . >"$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
name=cygnet-test-$$
# The first start builds the default view (uv and pip, so the CA bundle again: SSL_CERT_FILE for uv).
podman run -d --name "$name" -p "127.0.0.1:$port:8888" -e JUPYTER_TOKEN="$token" \
  -v "$ca:/etc/ssl/host-ca.crt:ro" -e PIP_CERT=/etc/ssl/host-ca.crt -e SSL_CERT_FILE=/etc/ssl/host-ca.crt \
  localhost/cygnet:test >/dev/null
trap 'podman rm -f "$name" >/dev/null 2>&1 || true' EXIT
echo "cygnet: waiting for cygnet up in the container (it builds its default view first)" >&2
for _ in $(seq 1 240); do
  if curl -fsS -H "Authorization: token $token" "http://127.0.0.1:$port/api/status" >/dev/null 2>&1; then
    break
  fi
  sleep 1
done
curl -fsS -H "Authorization: token $token" "http://127.0.0.1:$port/cygnet/api/views" >"$work/views.json" \
  || { podman logs "$name" 2>&1 | tail -n 40 >&2; echo "cygnet: the image does not serve" >&2; exit 1; }
curl -fsS -o /dev/null -H "Authorization: token $token" "http://127.0.0.1:$port/lab"
grep -q '"usable": true' "$work/views.json" \
  || { echo "cygnet: no usable view in the image: $(cat "$work/views.json")" >&2; exit 1; }
echo "cygnet: the session image serves JupyterLab and Cygnet (views: $(cat "$work/views.json" | head -c 200))"
