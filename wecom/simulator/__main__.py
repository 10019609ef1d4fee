"""`python -m wecom.simulator [--host H] [--port P] [--corp-id ...] ...` — run the WeCom simulator."""

from __future__ import annotations

import argparse
import os
import sys

from .config import SimConfig
from .crypto import CryptoError, WeComCrypto
from .server import serve


def build_parser() -> argparse.ArgumentParser:
    d = SimConfig()
    env = os.environ.get
    p = argparse.ArgumentParser(prog="python -m wecom.simulator",
                                description="Offline WeCom (企业微信) simulator: API under /cgi-bin/, control under /sim/.")
    p.add_argument("--host", default=env("WECOM_SIM_HOST", d.host))
    p.add_argument("--port", type=int, default=int(env("WECOM_SIM_PORT", d.port)))
    p.add_argument("--corp-id", default=env("WECOM_CORP_ID", d.corp_id))
    p.add_argument("--corp-secret", default=env("WECOM_CORP_SECRET", d.corp_secret),
                   help="the 「客户联系」 secret")
    p.add_argument("--agent-id", default=env("WECOM_AGENT_ID", d.agent_id))
    p.add_argument("--agent-secret", default=env("WECOM_AGENT_SECRET", d.agent_secret),
                   help="the self-built app's secret")
    p.add_argument("--token", default=env("WECOM_TOKEN", d.token), help="callback Token")
    p.add_argument("--aes-key", default=env("WECOM_AES_KEY", d.aes_key), help="callback EncodingAESKey (43 chars)")
    p.add_argument("--callback-url", default=env("WECOM_CALLBACK_URL", d.callback_url),
                   help="where events are POSTed; empty = record only")
    p.add_argument("--public-url", default=env("WECOM_SIM_PUBLIC_URL", d.public_url),
                   help="base URL used in qr_code links (default http://HOST:PORT)")
    p.add_argument("--rate-limit-per-minute", type=int, default=d.rate_limit_per_minute,
                   help="calls per minute per API before 45009 (WeCom: 10000)")
    p.add_argument("--takeover-delay-seconds", type=float, default=d.takeover_delay_seconds,
                   help="simulated seconds until a customer transfer is final (WeCom: 86400)")
    p.add_argument("--state-file", default=env("WECOM_SIM_STATE_FILE", d.state_file),
                   help="JSON file the state is kept in across restarts")
    p.add_argument("--callback-timeout", type=float, default=d.callback_timeout)
    p.add_argument("--callback-retries", type=int, default=d.callback_retries)
    p.add_argument("--callback-retry-interval", type=float, default=d.callback_retry_interval)
    p.add_argument("--callback-workers", type=int, default=d.callback_workers)
    p.add_argument("--customer-limit", type=int, default=d.default_customer_limit,
                   help="default customer limit of a member")
    p.add_argument("--verbose", action="store_true", help="log every HTTP request")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = SimConfig(
        host=args.host, port=args.port, corp_id=args.corp_id, corp_secret=args.corp_secret, agent_id=str(args.agent_id),
        agent_secret=args.agent_secret, token=args.token, aes_key=args.aes_key, callback_url=args.callback_url,
        public_url=args.public_url, rate_limit_per_minute=args.rate_limit_per_minute,
        takeover_delay_seconds=args.takeover_delay_seconds, state_file=args.state_file,
        callback_timeout=args.callback_timeout, callback_retries=args.callback_retries,
        callback_retry_interval=args.callback_retry_interval, callback_workers=args.callback_workers,
        default_customer_limit=args.customer_limit, verbose=args.verbose,
    )
    try:
        WeComCrypto(config.token, config.aes_key, config.corp_id)
    except CryptoError as exc:
        print(f"error: --aes-key: {exc}", file=sys.stderr)
        return 2
    try:
        serve(config)
    except OSError as exc:
        print(f"error: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
