#!/usr/bin/env bash
# make cluster-check: the deployment path, on this machine. Three ShelfLife
# nodes (one actor cluster, automanaged provider) behind Debian's nginx
# running the shipped configs/nginx.conf with only the upstream hosts, the
# listen address and the log path replaced; then, through nginx, a flash
# sale and a crowd of dashboard sockets (loadgen), and across the nodes a
# shopper's order socket (clustercheck); last, one node killed while
# requests go on through nginx. Fails on any transport error, any broken
# invariant, any socket that misses PAID, any request lost to the kill.
#
# Needs MariaDB and Redis on 127.0.0.1 (like make test); installs the nginx
# package when it is missing (apt-get, as root). Sizes and ports from the
# environment:
#   SHOPPERS (1000)  SUBSCRIBERS (1000)  ORDERS (300)  DURATION (10s)
#   CHECK_PORT_BASE (18600): nginx on BASE, nodes' HTTP on BASE+11..13,
#   automanaged on BASE+21..23, remoting on BASE+31..33, the fake Kakao
#   Pay on BASE+90 and the Kafka-protocol broker on BASE+92.
#   HOLD=1 keeps everything running after the checks (before the kill),
#   until Ctrl-C.
#   PPROF=1 serves each node's profiler on 127.0.0.1:BASE+41..43.
#   NODE_BIN: run this node binary instead of building bin/shelflife
#   (to compare builds). SHELFLIFE_* settings given pass to the nodes.
set -euo pipefail
cd "$(dirname "$0")/.."

SHOPPERS=${SHOPPERS:-1000}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
ORDERS=${ORDERS:-300}
DURATION=${DURATION:-10s}
BASE=${CHECK_PORT_BASE:-18600}
NGINX=127.0.0.1:$BASE
KAKAO=127.0.0.1:$((BASE + 90))
KAFKA=127.0.0.1:$((BASE + 92))
DB=shelflife_nginx_$(date +%s)
RUN=$(mktemp -d /tmp/shelflife-cluster-check.XXXXXX)
# Outside demo mode a node wants secrets of its own: fresh ones per run.
JWT_SECRET=$(head -c 36 /dev/urandom | base64)
ADMIN_PASSWORD=check-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')

# nginx from Debian when it is not installed (curl too, for the readiness
# checks). The package starts its own service on port 80 unless told not
# to: a policy-rc.d that refuses every service start keeps it down while
# apt installs it.
missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  created_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)

NODE_BIN=${NODE_BIN:-}
if [ -z "$NODE_BIN" ]; then
  go build -o bin/shelflife ./cmd/shelflife
  NODE_BIN=bin/shelflife
fi
go build -o bin/devstack ./cmd/devstack
go build -o bin/loadgen ./cmd/loadgen
go build -o bin/clustercheck ./cmd/clustercheck
# Every shopper and socket is a descriptor here, twice in nginx.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PIDS=()
NODE_PIDS=()
cleanup() {
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  mariadb -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$DB\`" 2>/dev/null || true
  echo "logs: $RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bin/devstack -kafka-port $((BASE + 92)) -kakao-addr "$KAKAO" >"$RUN/devstack.out" 2>&1 &
PIDS+=($!)

PEERS=127.0.0.1:$((BASE + 21)),127.0.0.1:$((BASE + 22)),127.0.0.1:$((BASE + 23))
# All shoppers and dashboards of the run come from 127.0.0.1, through
# nginx or not, so the per-address limits (sign-in, signup, sockets) are
# set off for it. trusted_proxies stays unset: nginx's X-Forwarded-For
# would name 127.0.0.1 for every shopper anyway. Everything else is the
# shipped local configuration.
# Signups use bcrypt cost 4 so that 1,000 of them measure the shop, not
# password hashing. Callbacks from Kakao Pay come back through nginx.
# Each node opens up to 1.5 x mysql_max_conns connections to MySQL; three
# nodes at the default (32) take 144 of MariaDB's default 151, so here
# each takes 16 (24 at most), leaving room for whatever else uses it.
start_node() { # index
  local i=$1
  SHELFLIFE_CONFIG=configs/local.yaml \
  SHELFLIFE_HTTP_ADDR=127.0.0.1:$((BASE + 10 + i)) \
  SHELFLIFE_PUBLIC_URL=http://$NGINX \
  SHELFLIFE_DEMO=false \
  SHELFLIFE_JWT_SECRET="$JWT_SECRET" \
  SHELFLIFE_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  SHELFLIFE_MYSQL_DSN="root@tcp(127.0.0.1:3306)/$DB?parseTime=true" \
  SHELFLIFE_MYSQL_MAX_CONNS=${SHELFLIFE_MYSQL_MAX_CONNS:-16} \
  SHELFLIFE_REDIS_PREFIX="$DB:" \
  SHELFLIFE_KAFKA_BROKERS=$KAFKA \
  SHELFLIFE_KAKAO_BASE_URL=http://$KAKAO \
  SHELFLIFE_CLUSTER_PROVIDER=automanaged \
  SHELFLIFE_CLUSTER_PEERS=$PEERS \
  SHELFLIFE_CLUSTER_AUTOMAN_PORT=$((BASE + 20 + i)) \
  SHELFLIFE_CLUSTER_PORT=$((BASE + 30 + i)) \
  SHELFLIFE_BCRYPT_COST=4 \
  SHELFLIFE_WS_PER_ADDRESS=0 \
  SHELFLIFE_LOGIN_PER_ADDRESS_PER_MINUTE=0 \
  SHELFLIFE_SIGNUP_PER_ADDRESS_PER_HOUR=0 \
  SHELFLIFE_LOG_LEVEL=warn \
  SHELFLIFE_LOG_FORMAT=json \
  SHELFLIFE_DEBUG_ADDR=$([ "${PPROF:-}" = 1 ] && echo "127.0.0.1:$((BASE + 40 + i))") \
    "$NODE_BIN" >"$RUN/node$i.out" 2>"$RUN/node$i.log" &
  PIDS+=($!)
  NODE_PIDS+=($!)
}
wait_ready() { # url, what, pid
  for _ in $(seq 1 120); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.5
  done
  echo "$2 did not become ready (logs in $RUN)" >&2
  return 1
}
for _ in $(seq 1 40); do (exec 3<>/dev/tcp/127.0.0.1/$((BASE + 92))) 2>/dev/null && break; sleep 0.25; done
# Node 1 makes the database and runs the migrations; the others join it.
start_node 1
wait_ready "http://127.0.0.1:$((BASE + 11))/readyz" "node 1" "${PIDS[-1]}"
start_node 2
start_node 3
wait_ready "http://127.0.0.1:$((BASE + 12))/readyz" "node 2" "${PIDS[-2]}"
wait_ready "http://127.0.0.1:$((BASE + 13))/readyz" "node 3" "${PIDS[-1]}"

# The shipped config, with the three upstream hosts, the listen address
# and the access log replaced; anything else left unreplaced fails here.
# nginx's workers (not root) cannot raise their descriptor limit above
# the machine's hard limit: where that is below the shipped
# worker_rlimit_nofile, both it and worker_connections come down to fit,
# as an operator would have to do on such a machine.
HARD=$(ulimit -Hn)
RLIMIT=65536 CONNS=30000
if [ "$HARD" != unlimited ] && [ "$HARD" -lt "$RLIMIT" ]; then
  RLIMIT=$HARD CONNS=$((HARD - 100))
  echo "descriptor hard limit $HARD here: worker_rlimit_nofile $RLIMIT, worker_connections $CONNS"
fi
sed -e "s/worker_rlimit_nofile 65536;/worker_rlimit_nofile $RLIMIT;/" \
    -e "s/worker_connections 30000;/worker_connections $CONNS;/" \
    -e "s/server node1:8080/server 127.0.0.1:$((BASE + 11))/" \
    -e "s/server node2:8080/server 127.0.0.1:$((BASE + 12))/" \
    -e "s/server node3:8080/server 127.0.0.1:$((BASE + 13))/" \
    -e "s/listen 80 /listen $NGINX /" \
    -e "s#access_log /var/log/nginx/access.log#access_log $RUN/access.log#" \
    configs/nginx.conf >"$RUN/nginx.conf"
if grep -Eq 'node[123]:8080|listen 80 |/var/log/nginx' "$RUN/nginx.conf" ||
  ! grep -q "worker_connections $CONNS;" "$RUN/nginx.conf" || ! grep -q "worker_rlimit_nofile $RLIMIT;" "$RUN/nginx.conf"; then
  echo "configs/nginx.conf changed shape: the substitutions above no longer apply" >&2
  exit 1
fi
NGINX_ARGS=(-c "$RUN/nginx.conf" -p "$RUN" -g "pid $RUN/nginx.pid; error_log $RUN/nginx-error.log warn; daemon off;")
"$NGINX_BIN" -t -q "${NGINX_ARGS[@]}"
"$NGINX_BIN" "${NGINX_ARGS[@]}" &
PIDS+=($!)
wait_ready "http://$NGINX/nginx-health" "nginx" "${PIDS[-1]}"
wait_ready "http://$NGINX/readyz" "the nodes through nginx" "${PIDS[-1]}"
# The pages and their scripts leave nginx compressed (the nodes send them
# plain).
for path in / /assets/shop.js; do
  if ! curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' "http://$NGINX$path" | grep -qi '^content-encoding: gzip'; then
    echo "FAILED: $path is not gzipped through nginx" >&2
    exit 1
  fi
done
echo "cluster: nginx http://$NGINX -> nodes 127.0.0.1:$((BASE + 11))-$((BASE + 13)); logs in $RUN"

# Failures as loadgen reports them: connections refused or cut, timeouts,
# nginx's own 502/503/504 (no node answered), sockets dropped, a node's
# 500 (internal) or 503, and a rate limit (the limits were meant to be
# off). Refusals (sold out, insufficient stock) are the sale working.
check_report() { # file
  local bad
  bad=$(tail -n 1 "$1" | grep -Eo '"[a-z_]+: (transport|timeout|http_5[0-9][0-9]|internal|unavailable|payment_unavailable|request_timeout|rate_limited|too_many_requests|socket_closed)":[0-9]+' || true)
  if [ -n "$bad" ]; then
    echo "FAILED: errors through nginx: $bad" >&2
    return 1
  fi
}

echo
echo "=== flash sale through nginx: $SHOPPERS shoppers, 100 units"
bin/loadgen flash-sale -target "http://$NGINX" -kakao "http://$KAKAO" -admin-password "$ADMIN_PASSWORD" \
  -shoppers "$SHOPPERS" -stock 100 -json | tee "$RUN/flash-sale.txt"
check_report "$RUN/flash-sale.txt"

echo
echo "=== dashboards through nginx: $SUBSCRIBERS sockets, $DURATION"
# The nodes' own metrics (not nginx's target) for their memory per socket
# and CPU per delivered message.
bin/loadgen dashboard -target "http://$NGINX" -kakao "http://$KAKAO" -admin-password "$ADMIN_PASSWORD" \
  -metrics "http://127.0.0.1:$((BASE + 11))/metrics,http://127.0.0.1:$((BASE + 12))/metrics,http://127.0.0.1:$((BASE + 13))/metrics" \
  -subscribers "$SUBSCRIBERS" -duration "$DURATION" -json | tee "$RUN/dashboard.txt"
check_report "$RUN/dashboard.txt"
if ! tail -n 1 "$RUN/dashboard.txt" | grep -q '"ws_delivery"'; then
  echo "FAILED: no dashboard socket received a change" >&2
  exit 1
fi

echo
echo "=== order sockets across nodes: $ORDERS orders, each placed, watched and approved on three nodes"
bin/clustercheck -node "http://127.0.0.1:$((BASE + 11))" -node "http://127.0.0.1:$((BASE + 12))" \
  -node "http://127.0.0.1:$((BASE + 13))" -orders "$ORDERS" -admin-password "$ADMIN_PASSWORD"

if grep -q 'setrlimit\|worker_connections are not enough\|exceed open file resource limit' "$RUN/nginx-error.log" 2>/dev/null; then
  echo "FAILED: nginx ran out of connections or descriptors:" >&2
  grep 'setrlimit\|worker_connections' "$RUN/nginx-error.log" | head -5 >&2
  exit 1
fi
if [ "${HOLD:-}" = 1 ]; then
  echo
  echo "HOLD=1: running until Ctrl-C (the node-loss step is skipped); admin password $ADMIN_PASSWORD"
  wait
  exit 0
fi

# A node gone: nginx skips it. Its requests are refused at connect, which
# nginx passes to the next node for any method; then the node is left out
# for fail_timeout. Every answer must still be a 200.
echo
echo "=== node 3 killed: 60 requests through nginx"
kill -KILL "${NODE_PIDS[2]}"
failed=0
for i in $(seq 1 60); do
  path=/healthz
  [ $((i % 2)) = 0 ] && path="/api/v1/products?lat=37.5710&lng=126.9800"
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://$NGINX$path" || true)
  [ "$code" = 200 ] || failed=$((failed + 1))
done
echo "answered other than 200: $failed of 60"
if [ "$failed" != 0 ]; then
  echo "FAILED: nginx did not route around the killed node" >&2
  exit 1
fi

echo
echo "cluster-check passed"
