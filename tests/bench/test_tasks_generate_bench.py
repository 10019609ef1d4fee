"""Smoke test of bench/tasks_generate.py: it imports however it is loaded, its defaults are the issue's scale, and
its report judges the targets. No servers and no timing (the bench itself measures speed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "tasks_generate.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_tasks_generate", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_are_a_million_members_in_50_brands_with_2000_guides_on_the_embedded_servers(bench):
    args = bench.build_parser().parse_args([])
    assert (args.members, args.brands, args.guides, args.scale, args.days) == (1_000_000, 50, 2000, 5, 60)
    assert (args.database_url, args.redis_url, args.json, args.worker_concurrency) == ("", "", "", 1)
    assert bench.build_parser().parse_args(["--json", "/tmp/b.json"]).json == "/tmp/b.json"  # make bench


def test_copy_lines_are_streamed_in_the_sizes_asked_for(bench):
    lines = [f"{n}\tx\n" for n in range(5000)]
    stream = bench.LineFile(iter(lines))
    chunks = []
    while chunk := stream.read(1000):
        assert len(chunk) <= 1000
        chunks.append(chunk)
    assert "".join(chunks) == "".join(lines)


def test_the_spread_of_day_0_is_deterministic_and_covers_every_day(bench):
    days = {bench.mix(member_id) % 60 for member_id in range(1, 5001)}
    assert days == set(range(60))
    assert bench.mix(12345) == bench.mix(12345)


def _results(*, night_s: float, copy_s: float, rerun_s: float, rerun_created: int, scaled_s: float, peak_mb: float):
    def run(created, seconds):
        return {"created": created, "wall_s": seconds, "per_s": created / seconds, "engine_s": seconds * 0.8,
                "slowest_brand_s": 0.5, "completed": 0, "cancelled": 0, "expired": 0, "loadavg_end": "1.00 1.00 1.00"}

    due = {"lifecycle": {"d0": 10, "d7": 10}, "birthday": 5, "total": 25}
    return {"day": "2026-03-01", "loadavg": {"start": "0.5 0.5 0.5", "end": "1.0 1.0 1.0"},
            "brands_onboarded": {"count": 50, "seconds": 200.0},
            "seed": {"members": 1000, "brands": 50, "guides": 2000, "stores": 20, "seconds": 9.0},
            "due": due, "scaled_seed": {"members": 5000, "seconds": 20.0}, "scaled_due": due,
            "night": run(25, night_s), "rerun": run(rerun_created, rerun_s), "scaled": run(25, scaled_s),
            "copy": {"rows": 25, "copied": 25, "seconds": copy_s, "per_s": 25 / copy_s, "loadavg_end": "1 1 1"},
            "worker_peak_mb": peak_mb, "scale": 5}


def test_the_report_passes_targets_that_are_met(bench):
    results = _results(night_s=1.0, copy_s=0.8, rerun_s=0.05, rerun_created=0, scaled_s=1.2, peak_mb=120)
    verdicts = {t["name"]: t["pass"] for t in bench.targets(results)}
    assert all(verdicts.values()) and len(verdicts) == 5
    text = bench.format_report(bench.build_parser().parse_args([]), results, {"cores": 2})
    assert "MISS" not in text and text.count("PASS") == 5 and "checks      OK" in text
    assert bench.checks(results) == []


def test_the_report_marks_every_missed_target_and_a_rerun_that_created_rows(bench):
    results = _results(night_s=2.0, copy_s=0.5, rerun_s=0.5, rerun_created=3, scaled_s=4.0, peak_mb=600)
    assert not any(t["pass"] for t in bench.targets(results))
    text = bench.format_report(bench.build_parser().parse_args([]), results, {"cores": 2})
    assert text.count("MISS") == 5
    assert bench.checks(results) == ["the re-run created 3 tasks"]
