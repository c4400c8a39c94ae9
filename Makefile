# xapisim — see README.md. `make test` is the command CI runs (through .ci/run).
GO        ?= go
FUZZTIME  ?= 10s
BENCHTIME ?= 3s

.PHONY: all build run test unit fuzz lint generate bench clean

all: build

build:
	$(GO) build -o bin/xapisim ./cmd/xapisim

# Start the emulator with its default pool (state in xapisim.db).
run:
	$(GO) run ./cmd/xapisim

# Every test: formatting and vet, unit and wire tests with the race detector, a short run
# of each fuzz target.
test: lint unit fuzz

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseXMLRPC$$' -fuzztime $(FUZZTIME) ./xapi/wire/
	$(GO) test -run '^$$' -fuzz '^FuzzParseJSONRPC$$' -fuzztime $(FUZZTIME) ./xapi/wire/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./xapi/where/

# Regenerate the embedded schema from ../shared/xenapi.
generate:
	$(GO) generate ./xapi/datamodel/

# Throughput and latency figures, printed as a table (see bench/main.go).
bench:
	$(GO) run ./bench -d $(BENCHTIME)

clean:
	rm -rf bin
