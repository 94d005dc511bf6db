.PHONY: help test check demo bench infra-up infra-down
help:            ## list the targets
	@grep -E '^[a-z-]+:.*##' Makefile | sed 's/:.*##/\t/'
test:            ## install everything and run the whole test suite (starts its own services)
	bash scripts/test
check:           ## ruff + mypy
	bash scripts/check
demo:            ## the main job: infra up, publish a generated province, worker until idle, stats
	bash scripts/demo
bench:           ## the side-by-side benchmark (own stack, ~1 M events, SQLite + PostgreSQL); ARGS='--events 200000'
	bash scripts/bench $(ARGS)
infra-up:        ## start the local Kafka, schema registry and PostgreSQL
	bash scripts/bootstrap && .venv/bin/onestop infra up
infra-down:      ## stop them
	.venv/bin/onestop infra down
