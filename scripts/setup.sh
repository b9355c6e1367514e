#!/usr/bin/env bash
# Sets up everything lxtag needs on this machine, idempotently: npm packages, Debian packages, Redis, Postgres,
# an S3-compatible server, the bucket, migrations, the Prisma client and the build. Both `npm test` and
# `npm run demo` call it first. Every step says what it does; a step that cannot be done says why.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
QUIET=0
[ "${1:-}" = "--quiet" ] && QUIET=1

say() { [ "$QUIET" = 1 ] || printf '\033[1m[setup]\033[0m %s\n' "$*"; }
fail() { printf '\033[31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

STATE_DIR="$ROOT/.lxtag"
mkdir -p "$STATE_DIR"
export ONNXRUNTIME_NODE_INSTALL=skip
export PRISMA_SCHEMA_ENGINE_BINARY=${PRISMA_SCHEMA_ENGINE_BINARY:-/bin/true}

REDIS_PORT=${LXTAG_REDIS_PORT:-6379}
PG_PORT=${LXTAG_PG_PORT:-5432}
S3_PORT=${LXTAG_S3_PORT:-4569}

# --- Debian packages --------------------------------------------------------------------------------------
need_pkgs=()
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v pg_ctlcluster >/dev/null || need_pkgs+=(postgresql)
PY=/usr/bin/python3
# torchvision: the detector's RoIPool and NMS
if ! "$PY" -c 'import torch, torchvision, onnx, numpy, pytest' 2>/dev/null; then
  need_pkgs+=(python3-torch python3-torchvision python3-onnx python3-numpy python3-pytest)
fi
# Debian's torch calls whatever libblas.so.3 is selected; the reference BLAS makes a 768-wide model ~30x slower
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need_pkgs+=(libopenblas0-pthread)
# the review desk's browser tests drive Debian's Chromium with playwright-core (never `playwright install`)
command -v chromium >/dev/null || need_pkgs+=(chromium)
# and its Firefox smoke test drives Debian's stock Firefox ESR over WebDriver BiDi with puppeteer-core
command -v firefox-esr >/dev/null || need_pkgs+=(firefox-esr)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "installing Debian packages: ${need_pkgs[*]} (a minute or two the first time)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >"$STATE_DIR/apt.log" 2>&1 ||
      fail "apt-get install failed; see $STATE_DIR/apt.log"
  else
    fail "missing: ${need_pkgs[*]}. Install them with your package manager (Debian: apt-get install ${need_pkgs[*]}),
or point LXTAG_REDIS_URL / DATABASE_URL / LXTAG_S3_ENDPOINT at running services."
  fi
else
  say "Debian packages present (redis-server, postgresql, python3-torch, python3-torchvision, python3-onnx, python3-pytest, OpenBLAS, chromium, firefox-esr)"
fi

# kubectl with kustomize v5 renders and checks the Kubernetes manifests in the infra tests (CI fails without it).
# Debian's own kubernetes-client (1.20) is too old; the machine images carry a current kubectl package.
if ! command -v kubectl >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] &&
    apt-get install -y -qq --no-install-recommends kubectl >>"$STATE_DIR/apt.log" 2>&1; then
    say "installed kubectl (the infra tests render the Kubernetes manifests with it)"
  else
    say "kubectl is missing and could not be installed: the infra tests will fail in CI (install kubectl >= 1.27)"
  fi
fi

# --- npm packages -----------------------------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  # npm 11.19's `npm ci` rejects this lock file over vite's Windows-only optional dependency
  # (napi-windows-process-start-time) even when the lock was just written by `npm install`; fall back to that.
  npm ci --no-audit --no-fund --loglevel=error 2>"$STATE_DIR/npm-ci.log" || {
    say "npm ci refused the lock file (see .lxtag/npm-ci.log); running npm install with the same lock"
    npm install --no-audit --no-fund --loglevel=error
  }
else
  say "npm packages up to date"
fi

# --- Redis ------------------------------------------------------------------------------------------------
if port_open "$REDIS_PORT"; then
  say "Redis already listening on 127.0.0.1:$REDIS_PORT"
else
  say "starting Redis on 127.0.0.1:$REDIS_PORT (noeviction, AOF)"
  mkdir -p "$STATE_DIR/redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STATE_DIR/redis" \
    --maxmemory-policy noeviction --appendonly yes --appendfsync everysec \
    --logfile "$STATE_DIR/redis/redis.log" --save ""
  for _ in $(seq 50); do port_open "$REDIS_PORT" && break; sleep 0.1; done
fi
redis-cli -p "$REDIS_PORT" config set maxmemory-policy noeviction >/dev/null

# --- Postgres ---------------------------------------------------------------------------------------------
if port_open "$PG_PORT"; then
  say "Postgres already listening on 127.0.0.1:$PG_PORT"
else
  ver=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1{print $1}')
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
    say "creating Postgres $ver cluster 'main'"
    pg_createcluster "$ver" main >/dev/null
  fi
  say "starting Postgres $ver on 127.0.0.1:$PG_PORT"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 100); do port_open "$PG_PORT" && break; sleep 0.1; done
fi
if command -v runuser >/dev/null && id postgres >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  psql_admin() { runuser -u postgres -- psql -p "$PG_PORT" -qtAX "$@"; }
  if [ "$(psql_admin -c "select 1 from pg_roles where rolname='lxtag'")" != 1 ]; then
    say "creating Postgres role lxtag"
    psql_admin -c "create role lxtag login superuser password 'lxtag'"
  fi
  if [ "$(psql_admin -c "select 1 from pg_database where datname='lxtag'")" != 1 ]; then
    say "creating database lxtag"
    psql_admin -c "create database lxtag owner lxtag"
  fi
fi

# --- S3-compatible store ----------------------------------------------------------------------------------
if port_open "$S3_PORT"; then
  say "S3-compatible server already listening on 127.0.0.1:$S3_PORT"
else
  say "starting s3rver on 127.0.0.1:$S3_PORT (data in .lxtag/s3)"
  mkdir -p "$STATE_DIR/s3"
  setsid nohup node scripts/s3-server.js "$S3_PORT" "$STATE_DIR/s3" >"$STATE_DIR/s3.log" 2>&1 < /dev/null &
  for _ in $(seq 100); do port_open "$S3_PORT" && break; sleep 0.1; done
  port_open "$S3_PORT" || fail "s3rver did not start; see $STATE_DIR/s3.log"
fi

# --- Prisma client, build, migrations, bucket --------------------------------------------------------------
if [ ! -f packages/db/src/generated/client.ts ] || [ prisma/schema.prisma -nt packages/db/src/generated/client.ts ]; then
  say "generating the Prisma client"
  npx prisma generate >"$STATE_DIR/prisma.log" 2>&1 || fail "prisma generate failed; see $STATE_DIR/prisma.log"
fi
say "building TypeScript (tsc -b)"
npx tsc -b tsconfig.build.json
say "bundling the review desk (apps/api/web -> apps/api/dist/web)"
node apps/api/web/build.mjs
say "applying migrations and creating the bucket"
node apps/api/dist/cli/prepare.js
say "ready: Redis :$REDIS_PORT, Postgres :$PG_PORT, S3 :$S3_PORT"
