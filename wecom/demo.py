"""The demo corp: what `make run` and the tests use when no real WeCom corp is configured.

The bundled simulator is started with exactly these values, so the platform and the simulator
agree on secrets, callback token and EncodingAESKey. Never used in production settings.
"""

DEMO_CORP = {
    "WECOM_CORP_ID": "ww-demo-mall",
    "WECOM_SECRET": "sim-contact-secret",
    "WECOM_AGENT_ID": "1000002",
    "WECOM_AGENT_SECRET": "sim-agent-secret",
    "WECOM_TOKEN": "simtoken",
    "WECOM_AES_KEY": "SimulatorEncodingAESKey0123456789abcdefABCD",
}
SIMULATOR_PORT = 8090
