"""Identity helpers: member codes with a check digit, phone normalisation, encryption and lookup hash."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings

from scrm.errors import AppError

CODE_LENGTH = 10  # 9 random digits + 1 Luhn check digit: easy to type at a POS, typos caught


def _luhn_digit(payload: str) -> str:
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def member_code_new() -> str:
    payload = str(secrets.randbelow(9 * 10**8) + 10**8)  # 9 digits, no leading zero
    return payload + _luhn_digit(payload)


def member_code_is_valid(code: str) -> bool:
    return bool(re.fullmatch(r"[1-9]\d{9}", code or "")) and _luhn_digit(code[:-1]) == code[-1]


PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def phone_normalize(raw: str) -> str:
    """Mainland China mobile numbers to 11 digits; anything else is an ``invalid_phone`` error."""
    digits = re.sub(r"[\s\-()]", "", str(raw or ""))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix):]
            break
    if not PHONE_RE.match(digits):
        raise AppError("Invalid mobile number: expected 11 digits starting with 1. 手机号格式不正确。",
                       code="invalid_phone", fields={"phone": ["Invalid mobile number."]})
    return digits


def phone_mask(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(value: str) -> str:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS)).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS)).decrypt(token.encode()).decode()


def lookup_hash(value: str) -> str:
    return hmac.new(settings.LOOKUP_HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()
