#!/usr/bin/env bash
# make load: start one node (demo data, its own database) and, in a process
# of their own as in a real deployment, the Kafka-protocol broker and the
# fake Kakao Pay (bin/devstack), and run the load tester's scenarios against
# the node, printing each report. So the node's CPU per paid checkout is the
# node's alone, not the broker's or the payment provider's.
# Needs MariaDB and Redis on 127.0.0.1, like make test. LOAD_HTTP_PORT,
# LOAD_KAKAO_PORT, LOAD_KAFKA_PORT and LOAD_DB_PREFIX (the database and
# Redis prefix) move it off the defaults; LOAD_MYSQL_PORT points it at
# another MariaDB on 127.0.0.1, and LOAD_MYSQL_PID makes the CPU per paid checkout count that
# server alone (else every mariadbd here, other work's included).
set -euo pipefail
cd "$(dirname "$0")/.."

SHOPPERS=${SHOPPERS:-1000}
SUBSCRIBERS=${SUBSCRIBERS:-5000}
# The crowd of sockets on one node (issue: 20,000).
MANY_SUBSCRIBERS=${MANY_SUBSCRIBERS:-20000}
DURATION=${DURATION:-10s}
HTTP=127.0.0.1:${LOAD_HTTP_PORT:-18080}
KAKAO=127.0.0.1:${LOAD_KAKAO_PORT:-18090}
KAFKA=127.0.0.1:${LOAD_KAFKA_PORT:-18092}

go build -o bin/shelflife ./cmd/shelflife
go build -o bin/loadgen ./cmd/loadgen
go build -o bin/devstack ./cmd/devstack
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# start_node: a node on a database of its own (DB, dropped by stop_node).
# Signups use bcrypt cost 4 so that 1,000 of them measure the shop, not
# password hashing; every virtual shopper and dashboard comes from 127.0.0.1,
# so the per-address socket bound and sign-in and signup limits are off.
start_node() {
  DB=${LOAD_DB_PREFIX:-shelflife_load}_$(date +%s)
  SHELFLIFE_CONFIG=configs/local.yaml \
  SHELFLIFE_LOGIN_PER_ADDRESS_PER_MINUTE=0 \
  SHELFLIFE_SIGNUP_PER_ADDRESS_PER_HOUR=0 \
  SHELFLIFE_HTTP_ADDR=$HTTP \
  SHELFLIFE_MYSQL_DSN="root@tcp(127.0.0.1:${LOAD_MYSQL_PORT:-3306})/$DB?parseTime=true" \
  SHELFLIFE_KAFKA_BROKERS=$KAFKA \
  SHELFLIFE_KAKAO_BASE_URL=http://$KAKAO \
  SHELFLIFE_REDIS_PREFIX="$DB:" \
  SHELFLIFE_BCRYPT_COST=4 \
  SHELFLIFE_WS_PER_ADDRESS=0 \
  SHELFLIFE_LOG_LEVEL=warn \
    bin/shelflife >>bin/load-node.out 2>>bin/load-node.log &
  NODE_PID=$!
  for _ in $(seq 1 120); do
    curl -fs "http://$HTTP/readyz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fs "http://$HTTP/readyz" >/dev/null
}

stop_node() {
  if [ -n "${NODE_PID:-}" ]; then
    kill "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null || true
    NODE_PID=
  fi
  if [ -n "${DB:-}" ]; then
    mariadb -uroot -h127.0.0.1 -P"${LOAD_MYSQL_PORT:-3306}" -e "DROP DATABASE IF EXISTS \`$DB\`" 2>/dev/null || true
    DB=
  fi
}

stop_all() {
  stop_node
  if [ -n "${DEVSTACK_PID:-}" ]; then
    kill "$DEVSTACK_PID" 2>/dev/null && wait "$DEVSTACK_PID" 2>/dev/null || true
  fi
}

trap stop_all EXIT
: >bin/load-node.out
: >bin/load-node.log
bin/devstack -kafka-port "${KAFKA##*:}" -kakao-addr "$KAKAO" >>bin/load-node.out 2>>bin/load-node.log &
DEVSTACK_PID=$!
kafka_up() { (exec 3<>/dev/tcp/127.0.0.1/"${KAFKA##*:}") 2>/dev/null; }
for _ in $(seq 1 60); do
  kafka_up && break
  sleep 0.5
done
if ! kafka_up; then
  echo "make load: the broker and fake Kakao Pay (bin/devstack) did not start on $KAFKA and $KAKAO; see bin/load-node.log (LOAD_KAFKA_PORT and LOAD_KAKAO_PORT move them)" >&2
  exit 1
fi
start_node

# run SCENARIO [flags]: the scenario comes first (loadgen refuses flags it
# does not take and words after them).
run() {
  local scenario=$1
  shift
  echo
  echo "=== loadgen $scenario $*"
  bin/loadgen "$scenario" -target "http://$HTTP" -kakao "http://$KAKAO" ${LOAD_MYSQL_PID:+-mysql-pid "$LOAD_MYSQL_PID"} "$@"
}

# The crowd of sockets first, while the node has never held sockets, so
# that its memory per socket is what they cost (a Go process keeps memory
# it freed for reuse). Each socket is a descriptor in the node and another
# in the load generator: where the hard limit on descriptors is below the
# crowd and a margin for the node's other connections (the machine the
# README's figures come from has 20,000, and no process there may raise
# it), the crowd comes down to fit and says so.
many=$MANY_SUBSCRIBERS
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((many + 1000)) ]; then
  many=$((hard - 1000))
  echo "(descriptor hard limit $hard here: $many sockets instead of $MANY_SUBSCRIBERS)"
fi
# Shoppers' stock sockets over a city's 50 warehouses, each hearing the
# changes near it (issue: 20,000 sockets, p99 <= 100 ms), then the admin
# dashboard's worst case, every socket hearing every change.
run city-sockets -duration "$DURATION" -subscribers "$many"
run dashboard -duration "$DURATION" -subscribers "$many"
# The rest on a fresh node, as the crowd's city of warehouses would make
# every listing near the site longer.
stop_node
start_node
run flash-sale -shoppers "$SHOPPERS" -stock 100
# A crowd ten times larger on the same 100 units: every shopper answered.
run flash-sale -shoppers "${CROWD:-10000}" -stock 100 -cheapest 0
run flash-sale -shoppers "$SHOPPERS" -stock 100000 -deal=false
run browse -duration "$DURATION" -concurrency 64
run dashboard -duration "$DURATION" -subscribers "$SUBSCRIBERS"
# Forged payment callbacks from an anonymous crowd while shoppers check out.
run callback-flood -shoppers 300 -callbacks "${CALLBACKS:-100000}"
