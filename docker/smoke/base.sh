#!/usr/bin/env bash
# Builds the smoke test's base image from Debian's package registry, for machines that cannot
# pull from Docker Hub (our CI). It stands in for the official images the Dockerfiles and
# docker-compose.yml name (python:3.11-slim-bookworm, postgres:17, redis:7):
#   - Debian 12 minbase, Python 3.11 with pip, PostgreSQL 15 and Redis 7 from Debian;
#   - every pinned Python dependency of the project (core, [worker], [s3]) already installed,
#     torch as the CPU wheel, so the Dockerfiles' `pip install` steps find them satisfied and
#     never download a CUDA torch (the worker Dockerfile pins torch==2.13.0; 2.13.0+cpu
#     satisfies that pin).
# One image for everything keeps the Docker storage small (layers are shared).
#
# usage: docker/smoke/base.sh TAG REQUIREMENTS_FILE     (run as root; debootstrap, docker)
set -euo pipefail
tag=$1
reqs=$2
mirror=${NANKE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

t0=$(date +%s)
say() { echo "base: $* (+$(($(date +%s) - t0))s)"; }
# The root file system is built in memory (about 2 GB): dpkg and pip write tens of thousands of
# small files with fsyncs, and removing them again, on a slow disk, took minutes.
root=$(mktemp -d /tmp/nanke-smoke-base.XXXXXX)
mount -t tmpfs -o size=8g,mode=0755 tmpfs "$root" # mode: it becomes the image's /
mounts=("$root")
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    if mountpoint -q "${mounts[i]}"; then umount "${mounts[i]}" || umount -l "${mounts[i]}"; fi
  done
  rm -f "$root.log"
  rmdir "$root" 2>/dev/null || echo "base.sh: left $root behind" >&2
}
trap cleanup EXIT
bind() { # bind SRC [ro]: the host's SRC at the same path inside the chroot
  mkdir -p "$root$1"
  mount --bind "$1" "$root$1"
  mounts+=("$root$1")
  if [ "${2:-}" = ro ]; then mount -o remount,bind,ro "$root$1"; fi
}

say "debootstrap bookworm (minbase + python3) into $root"
# Downloaded packages are kept for the next build on this machine (a dependency change).
cache=${NANKE_SMOKE_CACHE:-/var/cache/nanke-smoke}
mkdir -p "$cache/debootstrap" "$cache/apt/partial"
debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
  --cache-dir="$cache/debootstrap" bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
  { tail -20 "$root.log"; exit 1; }
rm -f "$root.log"

# Packages in a chroot must not start daemons; PostgreSQL must not create its default cluster
# (the smoke's postgres entrypoint initialises its own data directory).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/etc/postgresql-common/createcluster.d"
echo "create_main_cluster = false" >"$root/etc/postgresql-common/createcluster.d/smoke.conf"
mount -t proc proc "$root/proc"
mounts+=("$root/proc")
bind "$cache/apt"
rm -f "$root/etc/apt/apt.conf.d/docker-clean"
echo "Dir::Cache::archives \"$cache/apt\";" >"$root/etc/apt/apt.conf.d/99smoke-cache"

say "apt-get install postgresql redis-server"
{
  chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends postgresql redis-server
} >"$root.log" 2>&1 || { tail -20 "$root.log"; exit 1; }
rm -f "$root.log"

# Trust what the host trusts: where HTTPS goes through a proxy with its own CA (as on our CI),
# pip in the chroot and in `docker build` needs that CA. The host's bundle joins Debian's.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/ca-certificates/host-bundle.crt"
  chroot "$root" update-ca-certificates >/dev/null 2>&1
fi

say "pip install the pinned dependencies"
# The host's pip configuration, wheel folders and cache, so the chroot installs exactly what
# the host's .venv has (the CPU torch wheel lies in a local wheel folder here).
pip_env=(PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore)
for dir in /opt/wheels /opt/pypi /opt/pypi-more /etc/xdg/pip; do
  if [ -d "$dir" ]; then bind "$dir" ro; fi
done
for conf in /etc/pip.conf /root/.config/pip/pip.conf; do
  if [ -f "$conf" ]; then mkdir -p "$root$(dirname "$conf")" && cp "$conf" "$root$conf"; fi
done
while IFS='=' read -r name value; do
  case "$name" in
    PIP_FIND_LINKS | PIP_EXTRA_INDEX_URL | PIP_INDEX_URL | PIP_CONSTRAINT | PIP_CERT | PIP_DEFAULT_TIMEOUT)
      pip_env+=("$name=$value") ;;
  esac
done < <(env)
host_cache=$(python3 -m pip cache dir 2>/dev/null || true)
if [ -n "$host_cache" ] && [ -d "$host_cache" ]; then
  mkdir -p "$root/root/.cache/pip"
  mount --bind "$host_cache" "$root/root/.cache/pip"
  mounts+=("$root/root/.cache/pip")
fi
cp "$reqs" "$root/tmp/requirements.txt"
chroot "$root" /usr/bin/env "${pip_env[@]}" python3 -m pip install -q --no-warn-script-location \
  -r /tmp/requirements.txt >"$root.log" 2>&1 || { grep -v "^WARNING" "$root.log" | tail -20; exit 1; }
rm -f "$root.log"
chroot "$root" python3 -c "import torch; assert not torch.version.cuda, torch.__version__"

# Off with every mount inside the tree (proc, the host's wheel folders and pip cache) before
# anything is removed from it or packed: never rm through a bind mount.
for ((i = ${#mounts[@]} - 1; i >= 1; i--)); do umount "${mounts[i]}"; done
mounts=("$root")
if [ "$(grep -c " $root" /proc/mounts)" != 1 ]; then
  echo "base.sh: mounts left under $root" >&2
  exit 1
fi
# What the image keeps: no apt lists, no chroot-only files.
rm -f "$root/usr/sbin/policy-rc.d" "$root/tmp/requirements.txt" "$root/etc/pip.conf" \
  "$root/etc/apt/apt.conf.d/99smoke-cache"
rm -rf "$root/root/.config/pip" "$root/root/.cache" "$root/opt/wheels" "$root/opt/pypi" \
  "$root/opt/pypi-more"
rmdir "$root/etc/xdg/pip" 2>/dev/null || true
rm -rf "${root:?}$cache"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
say "docker import $tag"
tar --numeric-owner -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' --change 'LABEL nanke.smoke=1' --change 'CMD ["bash"]' \
  - "$tag" >/dev/null
say "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | numfmt --to=iec))"
