"""Secrets at rest: Fernet (AES-128-CBC + HMAC) with key rotation through PORTAL_ENCRYPTION_KEYS."""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_json(value: dict) -> str:
    if not value:
        return ""
    return _fernet(tuple(settings.ENCRYPTION_KEYS)).encrypt(json.dumps(value).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet(tuple(settings.ENCRYPTION_KEYS)).decrypt(token.encode()))
    except InvalidToken as exc:
        raise RuntimeError(
            "A secret could not be decrypted: PORTAL_ENCRYPTION_KEYS lacks the key it was made with."
        ) from exc
