# The two commands: `make run` (portal with demo data) and `make test` (the test suite).
.PHONY: run test setup clean bench

setup:
	@scripts/bootstrap.sh

run: setup
	@scripts/run.sh

test: setup
	.venv/bin/python -m pytest $(PYTEST_ARGS)

# Benchmarks (not part of the tests): barcodes, route evaluation, gateway throughput, CPU and recovery,
# route geometry.
# They need the local PostgreSQL and Mosquitto; figures go to docs/benchmarks.md.
bench: setup
	.venv/bin/python bench/barcodes.py
	.venv/bin/python bench/evaluation.py
	.venv/bin/python bench/gateway.py --quick
	.venv/bin/python bench/gateway_cpu.py
	.venv/bin/python bench/partitions.py --quick
	.venv/bin/python bench/gateway_recovery.py
	.venv/bin/python bench/accounts.py
	.venv/bin/python bench/geometry.py
	.venv/bin/python bench/captures.py
	.venv/bin/python bench/notifications.py

clean:
	rm -rf .venv *.egg-info .pytest_cache
