# Corridor: two commands for a newcomer (see README.md).
#   make run    sets up and runs the live demo (a local SoftEther server + a real tunnel)
#   make test   sets up and runs the whole test suite (CI runs exactly this)

GO      ?= go
FUZZTIME ?= 10s

.PHONY: run test setup build vet unit fuzz cross bench clean

run: setup
	./build/demo.sh

test: setup vet unit fuzz cross

setup:
	./build/setup.sh

build:
	$(GO) build -o bin/corridor .

vet:
	$(GO) vet ./...

# Unit, protocol, platform and end-to-end tests; the root-only tests (TUN,
# namespaces, SoftEther) skip with a message when not run as root.
# -p 1: one package at a time, so only one SoftEther server runs at once.
unit:
	$(GO) test -p 1 -count=1 -timeout 20m ./...

# Every native fuzz target, briefly.
fuzz:
	@set -e; for pkg in ./tunnel/l2tp ./tunnel/ppp ./tunnel/ike ./tunnel/esp; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# The non-GUI packages must build for the other desktop systems.
cross:
	CGO_ENABLED=0 GOOS=windows $(GO) vet ./tunnel/... ./platform/... ./core/...
	CGO_ENABLED=0 GOOS=darwin $(GO) vet ./tunnel/... ./platform/... ./core/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./tunnel/...

clean:
	rm -rf bin
