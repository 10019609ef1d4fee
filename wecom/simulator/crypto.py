"""WeCom callback crypto (WXBizMsgCrypt), implemented independently of wechatpy.

Facts (reference/wecom-api.md §4.1, DOC:91144):
- msg_signature = sha1(''.join(sorted([token, timestamp, nonce, encrypt]))), hex.
- AESKey = base64decode(EncodingAESKey + "="), 32 bytes; AES-256-CBC; IV = AESKey[:16].
- PKCS#7 padding to a 32-byte block (not AES's 16).
- plaintext = random(16 bytes) + len(msg) as 4-byte big-endian + msg + ReceiveId (the CorpID).
- ciphertext is base64-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_SIZE = 32


class CryptoError(Exception):
    """Signature mismatch, bad padding, wrong receive id, malformed envelope."""


def signature(token: str, timestamp: str | int, nonce: str, encrypt: str) -> str:
    parts = sorted([str(token), str(timestamp), str(nonce), str(encrypt)])
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()


def pkcs7_pad(data: bytes, block_size: int = BLOCK_SIZE) -> bytes:
    amount = block_size - (len(data) % block_size)
    return data + bytes([amount]) * amount


def pkcs7_unpad(data: bytes, block_size: int = BLOCK_SIZE) -> bytes:
    if not data:
        raise CryptoError("empty plaintext")
    amount = data[-1]
    if amount < 1 or amount > block_size or data[-amount:] != bytes([amount]) * amount:
        raise CryptoError("bad PKCS#7 padding")
    return data[:-amount]


def random_nonce() -> str:
    return str(secrets.randbelow(9_000_000_000) + 1_000_000_000)


_CDATA_RE = {
    name: re.compile(rf"<{name}>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))\s*</{name}>", re.S)
    for name in ("Encrypt", "ToUserName", "AgentID", "MsgSignature", "TimeStamp", "Nonce")
}


def xml_field(xml: str, name: str) -> str | None:
    pattern = _CDATA_RE.get(name) or re.compile(
        rf"<{name}>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))\s*</{name}>", re.S)
    match = pattern.search(xml)
    if not match:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)


class WeComCrypto:
    """Encrypt/decrypt and sign like WeCom's servers do for callbacks."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str):
        if len(encoding_aes_key) != 43:
            raise CryptoError("EncodingAESKey must be 43 characters")
        self.token = token
        self.key = base64.b64decode(encoding_aes_key + "=")
        if len(self.key) != 32:
            raise CryptoError("EncodingAESKey does not decode to 32 bytes")
        self.iv = self.key[:16]
        self.receive_id = receive_id

    # -- raw ---------------------------------------------------------------------------
    def encrypt(self, text: str | bytes, random16: bytes | None = None) -> str:
        msg = text.encode("utf-8") if isinstance(text, str) else text
        random16 = random16 if random16 is not None else os.urandom(16)
        if len(random16) != 16:
            raise CryptoError("random prefix must be 16 bytes")
        plain = random16 + struct.pack(">I", len(msg)) + msg + self.receive_id.encode("utf-8")
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).encryptor()
        cipher = encryptor.update(pkcs7_pad(plain)) + encryptor.finalize()
        return base64.b64encode(cipher).decode("ascii")

    def decrypt(self, encrypt: str, check_receive_id: bool = True) -> str:
        try:
            cipher = base64.b64decode(encrypt)
        except (ValueError, TypeError) as exc:
            raise CryptoError(f"bad base64: {exc}") from exc
        if not cipher or len(cipher) % 16:
            raise CryptoError("ciphertext length is not a multiple of 16")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).decryptor()
        plain = pkcs7_unpad(decryptor.update(cipher) + decryptor.finalize())
        if len(plain) < 20:
            raise CryptoError("plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        msg = plain[20:20 + length]
        receive_id = plain[20 + length:].decode("utf-8")
        if check_receive_id and receive_id != self.receive_id:
            raise CryptoError(f"receive id mismatch: {receive_id!r}")
        return msg.decode("utf-8")

    def sign(self, timestamp: str | int, nonce: str, encrypt: str) -> str:
        return signature(self.token, timestamp, nonce, encrypt)

    # -- URL verification (GET) --------------------------------------------------------
    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        if self.sign(timestamp, nonce, echostr) != msg_signature:
            raise CryptoError("invalid signature")
        return self.decrypt(echostr)

    def make_echostr(self, plaintext: str, timestamp: str | int, nonce: str) -> tuple[str, str]:
        """-> (echostr, msg_signature) for a GET URL verification request."""
        echostr = self.encrypt(plaintext)
        return echostr, self.sign(timestamp, nonce, echostr)

    # -- event push (POST) -------------------------------------------------------------
    def encrypt_message(self, xml: str, timestamp: str | int, nonce: str,
                        agent_id: str | int | None = None) -> tuple[str, str]:
        """-> (POST body envelope, msg_signature)."""
        encrypt = self.encrypt(xml)
        msg_signature = self.sign(timestamp, nonce, encrypt)
        agent = f"<AgentID><![CDATA[{agent_id}]]></AgentID>" if agent_id not in (None, "") else ""
        body = (f"<xml><ToUserName><![CDATA[{self.receive_id}]]></ToUserName>{agent}"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
        return body, msg_signature

    def decrypt_message(self, body: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        encrypt = xml_field(body, "Encrypt")
        if encrypt is None:
            raise CryptoError("no <Encrypt> in body")
        if self.sign(timestamp, nonce, encrypt) != msg_signature:
            raise CryptoError("invalid signature")
        return self.decrypt(encrypt)

    def decrypt_reply(self, body: str) -> str:
        """Decrypt a passive reply `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`."""
        encrypt = xml_field(body, "Encrypt")
        sig = xml_field(body, "MsgSignature")
        ts = xml_field(body, "TimeStamp")
        nonce = xml_field(body, "Nonce")
        if not (encrypt and sig and ts and nonce):
            raise CryptoError("not an encrypted reply")
        if self.sign(ts, nonce, encrypt) != sig:
            raise CryptoError("invalid reply signature")
        return self.decrypt(encrypt)


def generate_aes_key() -> str:
    """A random 43-character EncodingAESKey ([a-zA-Z0-9])."""
    while True:
        key = base64.b64encode(os.urandom(32)).decode("ascii")[:43]
        if re.fullmatch(r"[A-Za-z0-9]{43}", key):
            return key
