# The one entry point. `make demo` and `make test` work on a fresh machine: they install what
# they need (Debian packages, a Python venv with moto) and start/stop the local stack themselves.

CARGO ?= cargo
FUNCTIONS := failover-check idle-reaper snapshotter
# SAM's makefile build method calls build-<LogicalId> with ARTIFACTS_DIR set.
ARTIFACTS_DIR ?= target/lambda

.PHONY: demo test unit e2e lint fmt mutants mutants-changed build bench invoke stack-up stack-down package deploy clean \
        build-FailoverCheckFunction build-IdleReaperFunction build-SnapshotterFunction

## demo: start the local stack, play scenes of every function through the real binaries, tear down
demo:
	$(CARGO) build --workspace --bins
	scripts/with-stack.sh $(CARGO) run -q -p e2e --bin demo

## test: formatting, clippy, cfn-lint, unit and end-to-end tests against the local stack, then the
##       mutants of rule files changed since the last full `make mutants` run
# One feature set for the whole workspace, so nothing is compiled twice.
test: lint
	$(CARGO) build --workspace --bins
	scripts/with-stack.sh scripts/run-tests.sh
	$(MAKE) --no-print-directory mutants-changed

unit:
	$(CARGO) test --workspace --exclude e2e

e2e:
	$(CARGO) build --workspace --bins
	scripts/with-stack.sh $(CARGO) test -p e2e

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# The shared crate's features each stand alone (the workspace build unifies them all).
	$(CARGO) check -q -p rds-responder --no-default-features
	$(CARGO) check -q -p rds-responder --features test-util
	$(CARGO) check -q -p idle-reaper
	$(CARGO) check -q -p snapshotter
	scripts/bootstrap.sh
	.venv/bin/cfn-lint template.yaml
	.venv/bin/python scripts/check-template.py template.yaml
	.venv/bin/python scripts/test-check-template.py

fmt:
	$(CARGO) fmt --all

## mutants: every mutant of the rule files (.cargo/mutants.toml) must fail a unit test; on 0
##          missed, records what was tested in .cargo/mutants-verified. 30+ minutes on 2 cores.
##          Both install cargo-mutants (pinned in scripts/mutants.sh) when they have work.
mutants:
	scripts/mutants.sh all
mutants-changed:
	scripts/mutants.sh changed

## build: optimized binaries (opt-level s, LTO, one codegen unit, stripped)
build:
	$(CARGO) build --release -p failover-check -p idle-reaper
	$(CARGO) build --profile release-small -p snapshotter

## bench: idle-reaper reaping 1,000 idle PostgreSQL sessions (target < 1 s); cold starts; release builds;
##        snapshotter's retention over 10,000 snapshots and side by side with Cloud Custodian
C7N_SPEC := c7n==0.9.53
bench:
	$(CARGO) build --release -p idle-reaper -p failover-check
	$(CARGO) build --profile release-small -p snapshotter
	$(CARGO) build -p e2e --bin bench
	scripts/with-stack.sh target/debug/bench target/release/idle-reaper target/release/failover-check
	scripts/bootstrap.sh
	test -x .venv-bench/bin/custodian || (python3 -m venv .venv-bench && .venv-bench/bin/pip install --quiet --disable-pip-version-check '$(C7N_SPEC)')
	.venv/bin/python scripts/bench-snapshots.py target/release-small/snapshotter

## invoke: run one sample event through a function against a fresh local stack
##   make invoke FUNCTION=failover-check EVENT=events/manual.failover-check.json
FUNCTION ?= failover-check
EVENT ?= events/manual.failover-check.json
invoke:
	$(CARGO) build --workspace --bins
	scripts/with-stack.sh $(CARGO) run -q -p e2e --bin invoke -- $(FUNCTION) $(EVENT)

stack-up:
	scripts/bootstrap.sh
	scripts/stack.sh up
stack-down:
	scripts/stack.sh down

## package / deploy: Lambda zip layout (bootstrap + RDS CA bundle), then AWS SAM
RDS_CA_BUNDLE_URL ?= https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
build-FailoverCheckFunction:
	$(CARGO) build --release -p failover-check
	mkdir -p $(ARTIFACTS_DIR)
	cp target/release/failover-check $(ARTIFACTS_DIR)/bootstrap
	curl -fsSL $(RDS_CA_BUNDLE_URL) -o $(ARTIFACTS_DIR)/rds-ca-bundle.pem

build-IdleReaperFunction:
	$(CARGO) build --release -p idle-reaper
	mkdir -p $(ARTIFACTS_DIR)
	cp target/release/idle-reaper $(ARTIFACTS_DIR)/bootstrap
	curl -fsSL $(RDS_CA_BUNDLE_URL) -o $(ARTIFACTS_DIR)/rds-ca-bundle.pem

# snapshotter only calls AWS APIs: no database, no CA bundle.
build-SnapshotterFunction:
	$(CARGO) build --profile release-small -p snapshotter
	mkdir -p $(ARTIFACTS_DIR)
	cp target/release-small/snapshotter $(ARTIFACTS_DIR)/bootstrap

package:
	sam build
deploy: package
	sam deploy --guided

clean:
	scripts/stack.sh down
	$(CARGO) clean
