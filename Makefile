# zoogate: developer entry points. `make run` and `make test` are the two commands
# the README starts with; everything else is optional.
GO        ?= go
BIN       := bin/zoogate
FUZZTIME  ?= 10s

.PHONY: all build run run-cluster run-wan drill test test-unit test-race test-fuzz test-clients test-long bench bench-quick bench-wan bench-gossip bench-failover clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/zoogate

# A standalone server on 127.0.0.1:2181 with its data in ./data.
run: build
	$(BIN) serve --client-addr 127.0.0.1:2181 --data-dir ./data

# Three voters on this machine from configs/cluster-3.toml (clients on
# 127.0.0.1:2181-2183, data in ./data/n1..n3). Ctrl-C stops all three.
run-cluster: build
	@trap 'trap - INT TERM EXIT; kill $$(jobs -p) 2>/dev/null; wait' INT TERM EXIT; \
	for id in 1 2 3; do $(BIN) serve --config configs/cluster-3.toml --id $$id & done; \
	wait

# Two sites on this machine from configs/wan-demo.toml: three voters (clients
# on 127.0.0.1:2181-2183), and in site "eu" two relays (2184, 2186) behind an
# emulated 40 ms one-way WAN and an observer (2185). The emulator delays what
# a node sends, so the voters (whose WAN packets all go to other sites) and
# the relays each get it: 40 ms each way. Certificates, the session secret
# and the gossip key go to ./data/tls on the first run. Ctrl-C stops all six.
run-wan: build
	@test -f data/tls/gossip.key && test -f data/tls/node-5.crt && test -f data/tls/node-6.crt || $(BIN) tls init --config configs/wan-demo.toml --out data/tls --force
	@trap 'trap - INT TERM EXIT; kill $$(jobs -p) 2>/dev/null; wait' INT TERM EXIT; \
	for id in 1 2 3 4 6; do $(BIN) serve --config configs/wan-demo.toml --id $$id --wan-emulate "delay=40ms,jitter=2ms" & done; \
	$(BIN) serve --config configs/wan-demo.toml --id 5 & \
	wait

# Failover drills (docs/drills.md) on configs/wan-demo.toml: every node
# started by the drill in a temporary directory, every scenario, the summary
# here and the HTML report in data/drill-report.html. About 2 minutes.
drill: build
	$(BIN) drill --local --config configs/wan-demo.toml --html data/drill-report.html

# The whole test suite: unit and integration tests, the concurrent packages
# again under the race detector, bounded fuzzing of every decoder, and the
# real-client scripts (Kazoo, zkCli.sh).
test: test-unit test-race test-fuzz test-clients

test-unit:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 12m ./...

# The packages that run goroutines of their own: the peer and WAN
# transports, the server and its replica driver, watches, the storage's
# group commit and file system, the gossip agent. About 1.5 min on 2 idle
# cores, 2-3 min on a busy machine.
RACE_PKGS ?= ./core/peer ./core/replica ./core/server ./core/watch ./storage/... ./topology/gossip $(if $(wildcard wan),./wan/...)

test-race:
	$(GO) test -race -count=1 -timeout 5m $(RACE_PKGS)

test-fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

test-clients: build
	./scripts/test-clients.sh

# Longer soaks and bigger simulations (not part of `make test`).
test-long:
	ZOOGATE_LONG=1 $(GO) test -count=1 -timeout 60m ./...

# Both reports: docs/benchmarks.md (one site) and docs/benchmarks-wan.md
# (a remote site behind a 40 ms WAN), each beside Apache ZooKeeper.
bench: build
	./scripts/bench.sh
	./scripts/bench-wan.sh
	$(MAKE) bench-gossip

# Gossip (docs/topology.md): bytes per node per second in pools of 5, 20 and
# 50 nodes in this process, then relay failover (kill -9 of the relay a
# remote observer follows, ten times, median) and a leader change with real
# processes.
bench-gossip: build
	$(BIN) bench gossip --nodes 5,20,50 --window 2m
	$(BIN) bench gossip --nodes 5,20,50 --window 2m --tls
	ZOOGATE_BENCH=1 $(GO) test -count=1 -v -timeout 15m -run 'TestGossipRelayFailover$$|TestGossipLeaderChange$$' ./cmd/zoogate | grep -E 'trial|median|elected|^(ok|FAIL|---)'

bench-quick: build
	./scripts/bench.sh --quick
	./scripts/bench-wan.sh --quick

bench-wan: build
	./scripts/bench-wan.sh

# Only the 3-voter failover stages of make bench (both kinds of writers),
# into their own page.
bench-failover: build
	./scripts/bench.sh --failover-only --out docs/benchmarks-failover.md

clean:
	rm -rf bin
