# The two commands: `make run` (portal with demo data) and `make test` (the test suite).
.PHONY: run test setup clean

setup:
	@scripts/bootstrap.sh

run: setup
	@scripts/run.sh

test: setup
	.venv/bin/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf .venv *.egg-info .pytest_cache
