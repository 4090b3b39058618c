"""Credentials the portal uses to call someone else's HTTP endpoint (a metrics backend, an org's exporter):
basic or bearer, with the secrets encrypted at rest (portal.crypto) and never serialized or audited
(the `_encrypted` suffix keeps them out of audit snapshots)."""

from __future__ import annotations

import base64

from django.db import models

from portal import crypto


class AuthType(models.TextChoices):
    NONE = "none", "None"
    BASIC = "basic", "Basic"
    BEARER = "bearer", "Bearer token"


class HttpCredentials(models.Model):
    auth_type = models.CharField(max_length=10, choices=AuthType.choices, default=AuthType.NONE)
    username = models.CharField(max_length=200, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    bearer_token_encrypted = models.TextField(blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def password(self) -> str:
        return crypto.decrypt(self.password_encrypted)

    @password.setter
    def password(self, value: str) -> None:
        self.password_encrypted = crypto.encrypt(value)

    @property
    def bearer_token(self) -> str:
        return crypto.decrypt(self.bearer_token_encrypted)

    @bearer_token.setter
    def bearer_token(self, value: str) -> None:
        self.bearer_token_encrypted = crypto.encrypt(value)

    @property
    def has_secret(self) -> bool:
        return bool(self.password_encrypted or self.bearer_token_encrypted)

    def auth_headers(self) -> dict[str, str]:
        if self.auth_type == AuthType.BASIC:
            raw = f"{self.username}:{self.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        if self.auth_type == AuthType.BEARER:
            return {"Authorization": f"Bearer {self.bearer_token}"}
        return {}
