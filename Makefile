# Palisade's two commands: `make run` and `make test`. Each installs what it
# needs: the wasm32-wasip2 target the bundled modules are built for, and for
# the tests Debian's redis-server (the Redis tests start their own servers on
# free loopback ports).

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

CHECK_SAMPLES = examples/activities/wave.json examples/activities/reply.json examples/activities/wave.jsonl

.PHONY: setup test-setup run check-samples test bench

setup:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

## The sidecar on its embedded defaults: judge API on 127.0.0.1:8787,
## the bundled modules, quarantine in ./palisade.db, state in
## ./palisade-state.db. Ctrl-C stops it.
run: setup
	cargo run --release --locked -p palisade -- serve

## Judge the bundled sample activities once and print the decisions.
check-samples: setup
	cargo run --release --locked -p palisade -- check $(CHECK_SAMPLES)

test-setup: setup
	@command -v redis-server >/dev/null || { \
		echo "installing Debian's redis-server for the state and quarantine tests"; \
		$(SUDO) apt-get install -y redis-server >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update >/dev/null && $(SUDO) apt-get install -y redis-server >/dev/null; }; }

## Every test: unit, end-to-end (Node.js fetches the HTTP-signature library
## from npm on first use; real redis-server processes), CLI and doc tests.
test: test-setup
	cargo test --workspace --locked

## Benchmarks (not part of the tests); see docs/PERFORMANCE.md.
bench: test-setup
	cargo bench --locked -p palisade --bench pipeline
	cargo bench --locked -p palisade --bench reload
	cargo bench --locked -p palisade --bench state
