"""Smoke test of bench/wecom_callbacks.py: it imports, parses its options, builds callbacks the platform can
verify, and formats its report. No servers and no timing (the bench itself measures speed)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from wecom.demo import DEMO_CORP

BENCH = Path(__file__).resolve().parents[2] / "bench" / "wecom_callbacks.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_wecom_callbacks", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_are_the_issue_s_load(bench):
    args = bench.build_parser().parse_args([])
    assert args.rate == 60
    assert args.json == ""
    assert args.skip == []
    assert args.install_wrk is False


def test_options_parse(bench):
    args = bench.build_parser().parse_args([
        "--database-url", "postgres://postgres@127.0.0.1:5432/x", "--redis-url", "redis://127.0.0.1:6379/12",
        "--duration", "5", "--skip", "welcome", "--skip", "trivial", "--json", "/tmp/out.json",
        "--load-tool", "python"])
    assert args.database_url.endswith("/x") and args.redis_url.endswith("/12")
    assert args.duration == 5.0
    assert args.skip == ["welcome", "trivial"]
    assert args.json == "/tmp/out.json" and args.load_tool == "python"
    with pytest.raises(SystemExit):
        bench.build_parser().parse_args(["--skip", "everything"])


def test_percentile(bench):
    assert bench.percentile([3, 1, 2], 50) == 2
    assert bench.percentile(list(range(101)), 99) == 99
    assert math.isnan(bench.percentile([], 50))


def test_callbacks_are_distinct_and_verifiable_with_the_demo_corp(bench):
    lines = bench.callback_bodies(3, prefix="smoke", token=DEMO_CORP["WECOM_TOKEN"],
                                  aes_key=DEMO_CORP["WECOM_AES_KEY"], corp_id=DEMO_CORP["WECOM_CORP_ID"],
                                  agent_id=DEMO_CORP["WECOM_AGENT_ID"], userid="nobody")
    assert len({body for _m, _t, body in lines}) == 3
    crypto = WeChatCrypto(DEMO_CORP["WECOM_TOKEN"], DEMO_CORP["WECOM_AES_KEY"], DEMO_CORP["WECOM_CORP_ID"])
    for n, (method, target, body) in enumerate(lines):
        assert method == "POST" and target.startswith("/wecom/callback/?")
        from urllib.parse import parse_qs, urlsplit

        q = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        plain = crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
        assert f"smoke{n:09d}" in plain and "add_external_contact" in plain


def _results(*, stored_per_s: float, p99_ms: float, welcome_p99: float, sent: int):
    ingest = {"worker": "paused", "stored_per_s": stored_per_s, "p50_ms": 5.0, "p99_ms": p99_ms, "ok": 1000,
              "stored": 1000, "rejected": 0, "status_errors": 0, "errors": 0, "requests": 1000, "seconds": 2.0,
              "deliveries": 1000, "p90_ms": 9.0, "p999_ms": 20.0, "max_ms": 30.0, "built": 3000, "wrapped": False,
              "tool": "wrk -t1 -c16", "client_saturated": "",
              "cpu": {"machine": 1.9, "web": 1.2, "loadgen": 0.1, "other": 0.6, "seconds": 2.0},
              "cpu_ms": {"web": 2.4, "loadgen": 0.2}}
    trivial = {"rps": 1000.0, "p50_ms": 2.0, "p99_ms": 8.0, "tool": "wrk -t1 -c16", "client_saturated": ""}
    welcome = {"scan_rate": 60.0, "scans": 1200, "sent": sent, "code_expired": 1200 - sent, "failed": 0,
               "not_processed": 0, "other": 0, "p50_s": 0.5, "p90_s": 1.0, "p99_s": welcome_p99, "max_s": 4.0,
               "ack_p50_ms": 5, "ack_p99_ms": 20, "process_p50_ms": 100, "process_p99_ms": 400,
               "send_p50_ms": 50, "send_p99_ms": 200, "statuses": {"sent": sent}, "scan_errors": 0,
               "createtime_p99_s": 2.0, "sim_welcome_messages": sent}
    return {"trivial": trivial, "ingest_paused": ingest, "welcome": welcome}


def test_report_marks_each_target(bench):
    args = bench.build_parser().parse_args([])
    meta = {"cores": 2, "loadavg_start": "0.10 0.20 0.30", "loadavg_end": "1.00 0.50 0.40", "tool": "wrk -t1 -c16"}
    good = bench.format_report(args, _results(stored_per_s=600, p99_ms=40, welcome_p99=2.5, sent=1200), meta)
    assert "MISS" not in good
    assert good.count("PASS") == 4
    assert "ratio callbacks/s : trivial req/s" in good and "0.60" in good
    assert "0.10 0.20 0.30 at start" in good

    bad = bench.format_report(args, _results(stored_per_s=450, p99_ms=140, welcome_p99=3.5, sent=1100), meta)
    assert "PASS" not in bad
    assert bad.count("MISS") == 4
    assert "1100/1200" in bad


def test_report_flags_a_saturated_load_tool(bench):
    args = bench.build_parser().parse_args([])
    results = _results(stored_per_s=600, p99_ms=40, welcome_p99=2.5, sent=1200)
    results["ingest_paused"]["client_saturated"] = "ingest/paused: load tool busy 0.95 of its 1 cores"
    text = bench.format_report(args, results, {"cores": 2})
    assert "CLIENT SATURATED" in text and "0.95 of its 1 cores" in text


def test_saturation_rule(bench, tmp_path):
    load = bench.Load(None, tmp_path, connections=16, threads=1)  # the Python generator: one core per process
    assert load.saturation({"loadgen": 0.1 * load.capacity, "machine": 0.5}) == ""
    assert "load tool busy" in load.saturation({"loadgen": 0.9 * load.capacity, "machine": 0.5})
