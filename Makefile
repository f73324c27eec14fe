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

.PHONY: help deps deps-test build run test lint bench fuzz clean screenshots

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

deps: ## install missing Debian packages (FFmpeg libraries, Chromium, fonts, ImageMagick)
	@bash scripts/deps.sh

deps-test: ## deps, plus what only the tests use (a Redis server, axe-core from npm)
	@bash scripts/deps.sh --test
	@[ -f node_modules/axe-core/axe.min.js ] || npm ci --no-audit --no-fund --silent

build: ## build bin/beacon and bin/beacon-player (the player without cgo)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/beacon ./cmd/beacon
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/beacon-player ./cmd/beacon-player

run: deps build ## start the demo: server on 127.0.0.1:8080, demo content, a paired local player
	@bash scripts/run-demo.sh

test: deps-test lint ## run every test (Chromium, Redis, short fuzzing, arm64 player build)
	@bash scripts/services.sh
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./cmd/beacon-player
	$(GO) test $(TESTFLAGS) ./...
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZN) ./protocol/
	$(GO) test -run='^$$' -fuzz='^FuzzProbeImage$$' -fuzztime=5000x ./media/
	$(GO) test -run='^$$' -fuzz='^FuzzSanitizeSVG$$' -fuzztime=20000x ./media/
	$(GO) test -run='^$$' -fuzz='^FuzzAnimationHeaders$$' -fuzztime=20000x ./media/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=20000x ./server/cap/
	$(GO) test -run='^$$' -fuzz='^FuzzScanAck$$' -fuzztime=20000x ./server/players/

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: deps build ## benchmarks with ratios against baselines measured in the same run
	BEACON_BENCH=1 $(GO) test -count=1 -run='^(TestImageRenditionRatio|TestStillFigures|TestJPEGDecoderChoice)$$' -v ./media/ | grep -E '^(images|stills|jpegdecode|---|ok|FAIL)'
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=5x ./media/
	BEACON_BENCH=1 $(GO) test -count=1 -run='^TestIdleRSS$$' -v ./player/ | grep -E '^(player|---|ok|FAIL)'
	$(BIN)/beacon bench timeline
	$(BIN)/beacon bench video
	$(BIN)/beacon bench fanout --players 1000 --baseline
	$(BIN)/beacon bench fanout --players 10000 --baseline

fuzz: ## fuzz the protocol decoder for longer (FUZZTIME=5m make fuzz)
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./protocol/

screenshots: deps-test ## refresh docs/screenshots/<lang>/<page>.png from the console's browser tests
	BEACON_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestConsole' ./server/console/

clean: ## remove built binaries (not ./data)
	rm -rf $(BIN)
