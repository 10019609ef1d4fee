"""The simulator's own WXBizMsgCrypt implementation against the official vectors and wechatpy."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from wecom.simulator.crypto import CryptoError, WeComCrypto, pkcs7_pad, signature, xml_field

# Official Tencent WXBizMsgCrypt sample (reference/wecom-api.md §4.1).
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
GET_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
GET_TIMESTAMP = "1409659589"
GET_NONCE = "263014780"
GET_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="

HELLO = ("<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><FromUserName><![CDATA[mycreate]]>"
         "</FromUserName><CreateTime>1409659813</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA["
         "hello]]></Content><MsgId>4561255354251345929</MsgId><AgentID>218</AgentID></xml>")


@pytest.fixture
def crypto():
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID)


def test_official_get_vector_signature_and_echostr(crypto):
    assert signature(TOKEN, GET_TIMESTAMP, GET_NONCE, GET_ECHOSTR) == GET_SIGNATURE
    assert crypto.verify_url(GET_SIGNATURE, GET_TIMESTAMP, GET_NONCE, GET_ECHOSTR) == "1616140317555161061"


def test_official_get_vector_bad_signature_rejected(crypto):
    with pytest.raises(CryptoError):
        crypto.verify_url("0" * 40, GET_TIMESTAMP, GET_NONCE, GET_ECHOSTR)


def test_key_iv_and_padding_follow_the_spec(crypto):
    assert crypto.key == base64.b64decode(AES_KEY + "=") and len(crypto.key) == 32
    assert crypto.iv == crypto.key[:16]
    assert len(pkcs7_pad(b"x" * 31)) == 32 and pkcs7_pad(b"x" * 31)[-1] == 1
    assert pkcs7_pad(b"x" * 32)[-32:] == bytes([32]) * 32  # a full 32-byte block of padding


def test_plaintext_layout_random16_length_msg_receiveid(crypto):
    encrypted = crypto.encrypt("hello", random16=b"R" * 16)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    decryptor = Cipher(algorithms.AES(crypto.key), modes.CBC(crypto.iv)).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    assert len(plain) % 32 == 0
    assert plain[:16] == b"R" * 16
    assert struct.unpack(">I", plain[16:20])[0] == 5
    assert plain[20:25] == b"hello"
    assert plain[25:25 + len(CORP_ID)] == CORP_ID.encode()


def test_simulator_encrypts_wechatpy_decrypts(crypto):
    body, sig = crypto.encrypt_message(HELLO, "1409659813", "1372623149", agent_id="218")
    assert xml_field(body, "ToUserName") == CORP_ID and xml_field(body, "AgentID") == "218"
    assert sig == hashlib.sha1("".join(sorted([TOKEN, "1409659813", "1372623149",
                                                xml_field(body, "Encrypt")])).encode()).hexdigest()
    plain = WeChatCrypto(TOKEN, AES_KEY, CORP_ID).decrypt_message(body, sig, "1409659813", "1372623149")
    assert plain == HELLO


def test_wechatpy_encrypts_simulator_decrypts(crypto):
    reply = WeChatCrypto(TOKEN, AES_KEY, CORP_ID).encrypt_message("<xml><Content>你好</Content></xml>", "42",
                                                                   "1409659813")
    assert crypto.decrypt_reply(reply) == "<xml><Content>你好</Content></xml>"
    encrypt = xml_field(reply, "Encrypt")
    sig = xml_field(reply, "MsgSignature")
    body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    assert crypto.decrypt_message(body, sig, "1409659813", "42") == "<xml><Content>你好</Content></xml>"


def test_echostr_made_by_simulator_passes_wechatpy_check(crypto):
    echostr, sig = crypto.make_echostr("1616140317555161061", "1409659589", "263014780")
    assert WeChatCrypto(TOKEN, AES_KEY, CORP_ID).check_signature(sig, "1409659589", "263014780", echostr) in (
        "1616140317555161061", b"1616140317555161061")


def test_wechatpy_rejects_tampered_signature(crypto):
    body, sig = crypto.encrypt_message(HELLO, "1", "2")
    with pytest.raises(InvalidSignatureException):
        WeChatCrypto(TOKEN, AES_KEY, CORP_ID).decrypt_message(body, "f" * 40, "1", "2")


def test_wrong_receive_id_detected():
    other = WeComCrypto(TOKEN, AES_KEY, "wwsomeoneelse")
    encrypted = other.encrypt("x")
    with pytest.raises(CryptoError):
        WeComCrypto(TOKEN, AES_KEY, CORP_ID).decrypt(encrypted)


def test_round_trip_many_lengths(crypto):
    for n in (0, 1, 11, 12, 31, 32, 33, 100, 4000):
        text = "字" * n
        assert crypto.decrypt(crypto.encrypt(text)) == text
