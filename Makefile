# Axiom Audit. Two commands matter: `make run` and `make test` (see README).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
SCRIPTS   := build/scripts
BIN       := build/bin/axiom-audit
ARTIFACTS := $(CURDIR)/build/artifacts
GOFILES   := $(shell find . -name '*.go' -not -path './frontend/*' 2>/dev/null)
FRONTEND_SRC := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/package-lock.json 2>/dev/null)

.PHONY: help run test build dist bench demo setup-run setup-test frontend vet go-test frontend-test e2e bench-ui smoke clean

help:
	@echo "make run    install what is missing, build, open the desktop app (default profile)"
	@echo "make test   install what is missing, run every test"
	@echo "make build  release binary for this platform in $(BIN)"
	@echo "make dist   linux/amd64 and windows/amd64 binaries in build/bin"
	@echo "make bench  benchmarks, each compared with raw Badger"
	@echo "make bench-ui  timeline timings in the browser over 1,000,000 demo events"
	@echo "make demo   open the desktop app on a demo profile"

setup-run:
	@$(SCRIPTS)/setup.sh run

setup-test:
	@$(SCRIPTS)/setup.sh test

# The frontend's npm packages, as setup.sh installs them: so that `make
# build/bin/axiom-audit` on a fresh clone builds instead of failing on tsc.
frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error

# The Azurite blob emulator the tests of app/sync/azure start, as setup.sh
# installs it.
build/azurite/node_modules/.package-lock.json: build/azurite/package-lock.json
	cd build/azurite && npm ci --no-audit --no-fund --loglevel=error

frontend/dist/index.html: $(FRONTEND_SRC) frontend/node_modules/.package-lock.json
	cd frontend && npm run build

frontend: frontend/dist/index.html

$(BIN): frontend/dist/index.html $(GOFILES) go.mod go.sum
	$(SCRIPTS)/build.sh

build: setup-run $(BIN)

run: build
	$(BIN)

dist: setup-run frontend/dist/index.html
	$(SCRIPTS)/build.sh -platform linux/amd64 -o axiom-audit-linux-amd64
	$(SCRIPTS)/build.sh -platform windows/amd64 -o axiom-audit-windows-amd64.exe
	@ls -l build/bin

vet: frontend/dist/index.html
	$(GO) vet ./...
	$(GO) vet -tags smoke ./build/smoke/

go-test: frontend/dist/index.html build/azurite/node_modules/.package-lock.json
	$(SCRIPTS)/with-keychain.sh $(GO) test -race -count=1 -timeout 20m ./...

frontend-test:
	cd frontend && npm run typecheck && npm test

# Playwright on Debian's Chromium against `axiom-audit serve` over a demo
# profile, with the keys in a throwaway keychain (frontend/e2e/global-setup.ts).
e2e: $(BIN)
	cd frontend && ../$(SCRIPTS)/with-keychain.sh npx playwright test

# The timeline over 1,000,000 demo events (writing them takes ~4 min on 2 cores,
# so `make test` leaves this out): first rows, filter change and scrolling
# timings in build/artifacts/e2e/perf.json. To measure again without writing
# them again, keep a profile made with `axiom-audit --data-dir DIR --keystore
# file demo --events 1000000 --orgs 1` and run `make bench-ui BENCH_UI_DATA_DIR=DIR`.
bench-ui: $(BIN)
ifdef BENCH_UI_DATA_DIR
	cd frontend && AXIOM_E2E_PERF=1 AXIOM_E2E_DATA_DIR=$(abspath $(BENCH_UI_DATA_DIR)) AXIOM_E2E_KEYSTORE=file npx playwright test
else
	cd frontend && AXIOM_E2E_PERF=1 AXIOM_E2E_EVENTS=$${BENCH_UI_EVENTS:-1000000} AXIOM_E2E_ORGS=1 \
		../$(SCRIPTS)/with-keychain.sh npx playwright test
endif

smoke: $(BIN)
	AXIOM_SMOKE_BINARY=$(CURDIR)/$(BIN) AXIOM_ARTIFACTS=$(ARTIFACTS) \
		$(SCRIPTS)/with-keychain.sh $(GO) test -tags smoke -count=1 -v ./build/smoke/

test: setup-test
	$(MAKE) --no-print-directory vet
	$(MAKE) --no-print-directory frontend-test
	$(MAKE) --no-print-directory go-test
	$(MAKE) --no-print-directory e2e
	$(MAKE) --no-print-directory smoke
	@echo "make test: all suites passed"

# -p 1: one package's benchmarks at a time. go test runs packages' test
# binaries side by side by default, and each benchmark compares the store
# with raw Badger on a machine it must have to itself.
bench: frontend/dist/index.html
	$(GO) test -p 1 -run '^$$' -bench . -benchmem -count=1 -timeout 60m ./storage/... ./app/...

demo: build
	$(BIN) --profile demo demo --events $${DEMO_EVENTS:-20000} --if-empty
	$(BIN) --profile demo

clean:
	rm -rf build/bin build/artifacts frontend/dist
