# Beacon — digital signage content server and player.
# `make help` lists the targets.

GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
TESTFLAGS ?= -count=1 -timeout 20m
FUZZTIME  ?= 10s
# make test fuzzes for a fixed number of inputs: a fixed duration can end
# with "context deadline exceeded" on a loaded machine.
FUZZN     ?= 200000x

export PATH := $(PATH):/usr/local/go/bin

.PHONY: help deps build run test lint bench fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

deps: ## install missing Debian packages (FFmpeg libraries, Chromium, fonts, ImageMagick)
	@bash scripts/deps.sh

build: ## build bin/beacon and bin/beacon-player (the player without cgo)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/beacon ./cmd/beacon
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/beacon-player ./cmd/beacon-player

run: deps build ## start the demo: server on 127.0.0.1:8080, demo content, a paired local player
	@bash scripts/run-demo.sh

test: deps lint ## run every test (Chromium, short fuzzing, arm64 player build)
	@bash scripts/services.sh
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./cmd/beacon-player
	$(GO) test $(TESTFLAGS) ./...
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZN) ./protocol/
	$(GO) test -run='^$$' -fuzz='^FuzzProbeImage$$' -fuzztime=5000x ./media/

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: deps build ## benchmarks with ratios against baselines measured in the same run
	BEACON_BENCH=1 $(GO) test -count=1 -run='^TestImageRenditionRatio$$' -v ./media/ | grep -E '^(images|---|ok|FAIL)'
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=5x ./media/
	BEACON_BENCH=1 $(GO) test -count=1 -run='^TestIdleRSS$$' -v ./player/ | grep -E '^(player|---|ok|FAIL)'
	$(BIN)/beacon bench timeline
	$(BIN)/beacon bench video

fuzz: ## fuzz the protocol decoder for longer (FUZZTIME=5m make fuzz)
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./protocol/

clean: ## remove built binaries (not ./data)
	rm -rf $(BIN)
