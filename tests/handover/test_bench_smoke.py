"""bench/handover.py imports and its defaults are the issue's load (no servers, no timing here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "handover.py"


def test_defaults_are_10000_customers_of_20_departed_guides_on_the_embedded_servers():
    spec = importlib.util.spec_from_file_location("bench_handover", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = module.build_parser().parse_args([])
    assert (args.guides, args.customers, args.database_url, args.redis_url) == (20, 10000, "", "")
    assert module.build_parser().parse_args(["--json", "/tmp/b.json"]).json == "/tmp/b.json"  # make bench
