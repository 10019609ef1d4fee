"""Simulator configuration (CLI flags, `start_in_thread(...)` keyword arguments, `POST /sim/config`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# A fixed, valid EncodingAESKey (43 chars) so a default simulator and a default platform agree.
DEFAULT_AES_KEY = "SimulatorEncodingAESKey0123456789abcdefABCD"

DEFAULT_CONCURRENCY = {"externalcontact/remark": 5, "externalcontact/mark_tag": 5}


@dataclass
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 8090
    corp_id: str = "ww-demo-mall"
    corp_secret: str = "sim-contact-secret"   # 「客户联系」 secret
    agent_id: str = "1000002"
    agent_secret: str = "sim-agent-secret"    # self-built app secret
    token: str = "simtoken"                   # callback Token
    aes_key: str = DEFAULT_AES_KEY            # callback EncodingAESKey
    callback_url: str = ""                    # empty: events are recorded, not sent
    public_url: str = ""                      # base of qr_code links; default http://host:port
    state_file: str = ""

    rate_limit_per_minute: int = 10000        # per corp per API (WeCom: 10,000/min)
    rate_limits: dict[str, int] = field(default_factory=dict)          # endpoint -> calls/min
    concurrency_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CONCURRENCY))
    latency_ms: dict[str, float] = field(default_factory=dict)         # endpoint -> added latency

    token_ttl: int = 7200
    ticket_ttl: int = 7200
    expired_token_errcode: int = 42001        # WeCom sometimes answers 40014 instead
    welcome_code_ttl: int = 20
    oauth_code_ttl: int = 300
    user_ticket_ttl: int = 1800

    takeover_delay_seconds: float = 86400
    default_customer_limit: int = 50000
    default_transfer_outcome: str = "accept"  # accept | refuse | limit
    transfer_outcomes: dict[str, str] = field(default_factory=dict)    # external_userid -> outcome

    callback_timeout: float = 5.0
    callback_retries: int = 3                 # retries after the first attempt
    callback_retry_interval: float = 1.0      # real seconds between attempts
    callback_workers: int = 1                 # >1: sharded by customer/chat (order kept per key only)

    start_time: float | None = None           # initial simulated epoch (default: now)
    frozen: bool = False                      # simulated clock does not flow by itself
    calls_keep: int = 20000
    deliveries_keep: int = 5000
    verbose: bool = False

    # Fields that `POST /sim/config` may change at run time.
    RUNTIME = (
        "callback_url", "public_url", "rate_limit_per_minute", "rate_limits", "concurrency_limits",
        "latency_ms", "token_ttl", "ticket_ttl", "expired_token_errcode", "welcome_code_ttl",
        "oauth_code_ttl", "user_ticket_ttl", "takeover_delay_seconds", "default_customer_limit",
        "default_transfer_outcome", "transfer_outcomes", "callback_timeout", "callback_retries",
        "callback_retry_interval", "verbose", "token", "aes_key", "agent_id",
    )

    def update(self, values: dict[str, Any]) -> list[str]:
        unknown = [k for k in values if k not in self.RUNTIME]
        if unknown:
            raise ValueError(f"not a runtime setting: {', '.join(sorted(unknown))}")
        types = {f.name: f.type for f in dataclasses.fields(self)}
        for key, value in values.items():
            current = getattr(self, key)
            if isinstance(current, dict):
                if not isinstance(value, dict):
                    raise ValueError(f"{key} must be an object")
                value = dict(value)
            elif isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, int) and not isinstance(current, bool):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)
            elif types[key] in ("str",) and value is not None:
                value = str(value)
            setattr(self, key, value)
        if "default_transfer_outcome" in values and self.default_transfer_outcome not in OUTCOMES:
            raise ValueError(f"default_transfer_outcome must be one of {OUTCOMES}")
        for euid, outcome in self.transfer_outcomes.items():
            if outcome not in OUTCOMES:
                raise ValueError(f"transfer outcome for {euid} must be one of {OUTCOMES}")
        return sorted(values)

    def public(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["corp_secret"] = _mask(self.corp_secret)
        data["agent_secret"] = _mask(self.agent_secret)
        return data

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


OUTCOMES = ("accept", "refuse", "limit")


def _mask(secret: str) -> str:
    return secret[:3] + "***" if secret else ""
