"""Webhook signing secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256, `cryptography`).

The service must keep each webhook's secret to sign its deliveries, so it cannot hash it; it
encrypts it instead. `webhooks.secret` holds `fernet:<token>`, the prefix naming the format
(a plain secret, as revision 0006 and earlier stored it, starts with `whsec_`; migration 0007
encrypts those and its downgrade decrypts them).

The key: `FIELDROUTE_WEBHOOK_SECRET_KEY` when set, else the token signing secret
(`Settings.webhook_key_material`), never used as it is but through HKDF-SHA256 (RFC 5869, no
salt, info `fieldroute/webhook-secrets/v1`, 32 bytes) into the Fernet key, so the key that
encrypts secrets is not the one that signs tokens. Changing the material (setting
`FIELDROUTE_WEBHOOK_SECRET_KEY` later, or rotating the signing secret while it is unset) makes
the stored secrets unreadable: their deliveries fail with `last_error` saying so, and the
webhooks must be registered again.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from api.settings import Settings

#: what an encrypted secret starts with in `webhooks.secret`
PREFIX = "fernet:"
#: HKDF's `info`: ties the derived key to this one use
HKDF_INFO = b"fieldroute/webhook-secrets/v1"


class SecretUnreadable(Exception):
    """A stored secret that this key cannot decrypt (or one stored in plain text)."""


def fernet_key(material: str) -> bytes:
    """The Fernet key derived from `material` (HKDF-SHA256, info `HKDF_INFO`)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(material.encode()))


def is_sealed(stored: str) -> bool:
    """Whether a stored value is in the encrypted format."""
    return stored.startswith(PREFIX)


class SecretBox:
    """Encrypts secrets for storage and decrypts them for signing, with one key."""

    def __init__(self, material: str) -> None:
        self._fernet = Fernet(fernet_key(material))

    def seal(self, secret: str) -> str:
        """The value to store for `secret`: `fernet:` and the Fernet token."""
        return PREFIX + self._fernet.encrypt(secret.encode()).decode("ascii")

    def open(self, stored: str) -> str:
        """The secret a stored value holds; `SecretUnreadable` if it is not encrypted or
        was encrypted with another key."""
        if not is_sealed(stored):
            raise SecretUnreadable(
                "webhook secret is stored in plain text: run `dispatch db upgrade`"
            )
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
        except (InvalidToken, UnicodeError, ValueError):
            raise SecretUnreadable(
                "webhook secret cannot be decrypted with this key (FIELDROUTE_WEBHOOK_SECRET_KEY "
                "or the signing secret changed?): register the webhook again"
            ) from None


@lru_cache(maxsize=8)
def _box(material: str) -> SecretBox:
    return SecretBox(material)


def secret_box(settings: Settings, *, create: bool = True) -> SecretBox:
    """The box of the settings' key (see the module's docstring); `create=False` never
    generates a signing secret file (`api.settings.SecretKeyError` instead)."""
    material, _origin = settings.webhook_key_material(create=create)
    return _box(material)
