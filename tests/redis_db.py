"""The shared Redis's database for this test process.

``SFD_TEST_REDIS_DB`` (default 5) picks the base, so two checkouts can run their suites at once;
each pytest-xdist worker adds its index (gw0 +0, gw1 +1, ...), so parallel workers never flush
each other's queues. The benchmarks use DB 6 only while no suite runs."""

import os


def redis_test_url() -> str:
    base = int(os.environ.get("SFD_TEST_REDIS_DB", "5"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    return f"redis://127.0.0.1:6379/{base + worker}"
