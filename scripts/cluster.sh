#!/usr/bin/env bash
# make cluster: three ShelfLife nodes on this machine, one actor cluster
# (automanaged provider), sharing MariaDB, Redis, one Kafka-protocol broker
# and one fake Kakao Pay (both in the devstack process). Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."

go build -o bin/shelflife ./cmd/shelflife
go build -o bin/devstack ./cmd/devstack

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

bin/devstack -kafka-port 19092 -kakao-addr 127.0.0.1:8090 > bin/devstack.out 2>&1 &
PIDS+=($!)
sleep 1

PEERS=127.0.0.1:6331,127.0.0.1:6332,127.0.0.1:6333
start_node() { # index, demo
  local i=$1
  SHELFLIFE_CONFIG=configs/local.yaml \
  SHELFLIFE_HTTP_ADDR=127.0.0.1:808$i \
  SHELFLIFE_DEMO=$2 \
  SHELFLIFE_MYSQL_DSN="root@tcp(127.0.0.1:3306)/shelflife_cluster?parseTime=true" \
  SHELFLIFE_KAFKA_BROKERS=127.0.0.1:19092 \
  SHELFLIFE_KAKAO_BASE_URL=http://127.0.0.1:8090 \
  SHELFLIFE_CLUSTER_PROVIDER=automanaged \
  SHELFLIFE_CLUSTER_PEERS=$PEERS \
  SHELFLIFE_CLUSTER_AUTOMAN_PORT=633$i \
  SHELFLIFE_CLUSTER_PORT=1633$i \
    bin/shelflife > "bin/node$i.out" 2> "bin/node$i.log" &
  PIDS+=($!)
  for _ in $(seq 1 120); do curl -fs "http://127.0.0.1:808$i/readyz" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "node $i did not become ready; see bin/node$i.log" >&2
  return 1
}
start_node 1 true   # node 1 loads the demo data first
start_node 2 false
start_node 3 false
echo
echo "ShelfLife cluster: http://127.0.0.1:8081  http://127.0.0.1:8082  http://127.0.0.1:8083"
echo "fake Kakao Pay:    http://127.0.0.1:8090   logs: bin/node{1,2,3}.log"
echo "Ctrl-C stops the cluster."
wait
