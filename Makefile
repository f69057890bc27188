# ShelfLife. `make run` starts a node with demo data; `make test` runs the
# whole suite. See README.md.

GO            ?= go
GOBIN         ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
PROTOC_GEN_GO := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.6
PROTOC_GEN_GRAIN := github.com/asynkron/protoactor-go/protobuf/protoc-gen-go-grain@v0.0.0-20240822202345-3c0e61ca19c9
PROTOACTOR_DIR = $(shell $(GO) list -m -f '{{.Dir}}' github.com/asynkron/protoactor-go)

# The race detector reports data races inside protoactor-go itself (remote,
# gossip), so packages whose tests start a cluster member run without it:
#   cluster/member  starts members
#   node            starts whole nodes, each a cluster member
#   actors/lot, actors/warehouse  grains tested on a two-member cluster
#   actors/saga/clienttest  the saga client against grains on a two-member cluster
#   cmd/loadgen, cmd/clustercheck  their tests drive a node started in the test process
#   chaos           the fault suite's nodes (its -short version runs here)
#   simulate        its determinism test runs lot and warehouse grains
# Every other package runs with -race.
ALL_PKGS      = $(shell $(GO) list ./...)
NONRACE_PKGS  = $(filter shelflife/cluster/% shelflife/node shelflife/node/% shelflife/actors/lot shelflife/actors/warehouse shelflife/actors/saga/clienttest shelflife/cmd/loadgen shelflife/cmd/clustercheck shelflife/chaos shelflife/simulate,$(ALL_PKGS))
RACE_PKGS     = $(filter-out $(NONRACE_PKGS),$(ALL_PKGS))

# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report a spurious "context deadline exceeded" when its time runs out on a
# busy machine (go.dev/issue/75804, fixed in Go 1.27). 40000x is about 10 s
# here.
FUZZTIME ?= 40000x

.PHONY: bench-storm seed-scale bench-scale chaos cluster cluster-check cluster-check-short e2e load compose-check run test test-race test-cluster fuzz lint generate bench build tools

# The built binary, not `go run`: go run turns the node's clean exit after
# Ctrl-C into exit status 1 ("make: *** Error 1").
run: build
	bin/shelflife -config configs/local.yaml

build:
	CGO_ENABLED=0 $(GO) build -o bin/shelflife ./cmd/shelflife

test: test-race test-cluster fuzz

test-race:
	$(GO) test -race -count=1 $(RACE_PKGS)

# The cluster packages, and the fault suite's short version (each fault for
# a couple of seconds; make chaos runs the full one).
test-cluster:
	$(GO) test -count=1 $(filter-out shelflife/chaos,$(NONRACE_PKGS))
	$(GO) test -count=1 -short ./chaos/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeRequests -fuzztime $(FUZZTIME) ./api/

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

tools:
	$(GO) install $(PROTOC_GEN_GO)
	$(GO) install $(PROTOC_GEN_GRAIN)

# Regenerates the committed protobuf and grain code (needs protoc).
generate: tools
	@for f in $$(find actors -name '*.proto' | sort); do \
		echo "protoc $$f"; \
		PATH="$(GOBIN):$$PATH" protoc -I . -I $(PROTOACTOR_DIR) \
			--go_out=. --go_opt=paths=source_relative \
			--go-grain_out=. --go-grain_opt=paths=source_relative $$f || exit 1; \
	done

BENCHTIME ?= 5s
SCALE_DB  ?= shelflife_scale

# Hot-lot deductions (SQL per deduction vs the lot grain) at N = 8, 64, 256,
# orders and their saga steps written per order vs set-based (MariaDB CPU
# per order), a lot request to another member vs to this one, and the
# browse rate, in one
# run against the local MariaDB; prints ratios. Then the scale rows on the
# data set in SCALE_DB (make seed-scale first; without it they say so):
# a node's start-up to ready, browse and search for random addresses, the
# activation of hot lots with 200,000-row ledgers, and rss_mb with 100,000
# lot grains active (about four minutes). bench-scale runs those alone.
bench:
	$(GO) run ./cmd/benchinv -duration $(BENCHTIME) -scale-db $(SCALE_DB)

bench-scale:
	$(GO) run ./cmd/benchinv -duration $(BENCHTIME) -scale-db $(SCALE_DB) -scale-only

# The expiry storm (about four minutes): 100,000 lots generated into their
# own database reach their 48 h mark or expiry within the same minute while
# a node with the real clock serves checkouts of other lots; prints the lag
# per lot, how many moved within 60 s, what was written off and the
# checkout p99 during the storm against before it. STORM_FLAGS adds flags
# (e.g. -storm-ports 26000 -storm-lots 20000).
bench-storm:
	$(GO) run ./cmd/benchinv -storm $(STORM_FLAGS)

# The scale data set (50 warehouses, 20,000 products, 1,000,000 lots, 50 lots
# with 200,000-row ledgers) loaded into SCALE_DB, dropped and created afresh;
# prints how long it took. See README "Scale".
seed-scale:
	$(GO) run ./cmd/seedscale -db $(SCALE_DB)

# 14 simulated days of the demo shop on the injected clock, against the real
# lot and warehouse grains and MySQL (databases shelflife_simulate_ladder
# and _adaptive, created and dropped): the same seeded demand under the
# markdown ladder and under adaptive markdown; prints a table and one JSON
# line. The model is simulate.Params (README "Markdowns").
simulate:
	$(GO) run ./cmd/simulate

# The browser test of the pages: Debian's Chromium driven by playwright-core
# (npm), against a node started from bin/shelflife.
e2e: build
	cd web/e2e && npm ci --no-audit --no-fund && SHELFLIFE_BIN=../../bin/shelflife npm test

# Three nodes of one cluster on this machine (see README "Several nodes").
cluster:
	bash scripts/cluster.sh

# The deployment path: three nodes behind Debian's nginx running
# configs/nginx.conf (installed when missing), a 1,000-shopper flash sale and
# 1,000 dashboard sockets through it, order sockets across the nodes; fails
# on any transport error, broken invariant or missed PAID. See README
# "Several nodes". The short one (CI) is the same at a fifth of the size.
cluster-check:
	bash scripts/cluster-check.sh

cluster-check-short:
	SHOPPERS=200 SUBSCRIBERS=200 ORDERS=60 DURATION=3s bash scripts/cluster-check.sh

# Every dependency fault (own mariadbd killed, made read-only, slowed or cut
# through a proxy; own redis-server killed; the broker refusing; Kakao Pay
# slow, declining, losing answers) under a sale; one line per fault and the
# tally "chaos: <held> of <total> held". See README "Faults".
chaos:
	bash scripts/chaos.sh

# The load tester's scenarios against a node started for the purpose.
load:
	bash scripts/load.sh

# Validates docker-compose.yml with the Compose specification's own loader
# (github.com/compose-spec/compose-go), no Docker needed: it parses, every
# image or build exists, mounted files are in the repo, nodes use the etcd
# provider, secrets come from the environment (configs/compose_test.go).
compose-check:
	$(GO) test -count=1 ./configs/
