# The commands README.md documents. Every target works on a fresh clone of this repository.

SHELL := /bin/bash
CARGO ?= cargo
export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export NATS_URL ?= nats://127.0.0.1:4222

.PHONY: run test bench lint deps fmt

## deps: start the local Postgres and NATS when they are not running
deps:
	deploy/dev/start-deps.sh

## run: start the system against the local Postgres and NATS
run: deps
	deploy/dev/run.sh

## test: the whole test suite against the real Postgres and NATS of this machine
test: deps
	deploy/dev/test.sh

## bench: the benchmarks, at full size; results go to docs/BENCHMARKS.md by hand. Also runs
## the two-scheduler renewal test at its full size of 1,000 certificates (100 in `make test`).
bench: deps
	$(CARGO) bench --workspace
	CERTITUDE_TWO_SCHEDULERS_CERTIFICATES=1000 $(CARGO) test --release -p certitude-system-tests \
		--test auto_renewal -- --exact two_replicas_renew_each_certificate_once

## lint: formatting and clippy, warnings as errors
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
