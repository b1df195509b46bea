# Palisade's two commands: `make run` and `make test`. Each installs what it
# needs: the wasm32-wasip2 target the bundled modules are built for, and for
# the tests the Debian packages in TEST_PACKAGES (redis-server, Node.js with
# npm, chromium).

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

CHECK_SAMPLES = examples/activities/wave.json examples/activities/reply.json examples/activities/wave.jsonl

.PHONY: setup test-setup run check-samples test bench

setup:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

## The sidecar on its embedded defaults: judge API on 127.0.0.1:8787,
## the bundled modules, quarantine in ./palisade.db, state in
## ./palisade-state.db; the admin API and the moderators' console on
## http://127.0.0.1:8788/console/, behind the token in
## ./palisade-admin.token (made on first run, readable by you only).
## Ctrl-C stops it.
run: setup palisade-admin.token
	@echo "console: http://127.0.0.1:8788/console/ (admin token: ./palisade-admin.token)"
	cargo run --release --locked -p palisade -- serve --admin-token-file palisade-admin.token

## A random admin token, 256 bits from the kernel, in a file only its
## owner can read.
palisade-admin.token:
	@(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > $@)
	@echo "made a new admin token in ./$@"

## Judge the bundled sample activities once and print the decisions.
check-samples: setup
	cargo run --release --locked -p palisade -- check $(CHECK_SAMPLES)

# Debian packages the tests use: redis-server (the state and quarantine
# tests start their own), Node.js with npm (the signature harness and
# Playwright) and chromium (the console's browser test).
TEST_PACKAGES = redis-server:redis-server node:nodejs npm:npm chromium:chromium

test-setup: setup
	@missing=""; for pair in $(TEST_PACKAGES); do \
		command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian's$$missing for the tests"; \
		$(SUDO) apt-get install -y $$missing >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update >/dev/null && $(SUDO) apt-get install -y $$missing >/dev/null; }; fi

## Every test: unit, end-to-end (npm fetches the HTTP-signature library
## and Playwright on first use; real redis-server processes; the console in
## headless Chromium, screenshots in target/console-screenshots), CLI and
## doc tests.
test: test-setup
	cargo test --workspace --locked

## Benchmarks (not part of the tests); see docs/PERFORMANCE.md.
bench: test-setup
	cargo bench --locked -p palisade --bench pipeline
	cargo bench --locked -p palisade --bench reload
	cargo bench --locked -p palisade --bench state
