"""The scrape-target form of the settings page; validation beyond field shapes is services.clean_target."""

from __future__ import annotations

from typing import Any

from django import forms

from metrics_in_app.models import Scheme
from portal.credentials import AuthType


class ScrapeTargetForm(forms.Form):
    name = forms.CharField(max_length=100)
    address = forms.CharField(max_length=255, help_text="host:port")
    metrics_path = forms.CharField(max_length=255, initial="/metrics")
    scheme = forms.ChoiceField(choices=Scheme.choices, initial=Scheme.HTTP)
    interval_seconds = forms.IntegerField(min_value=5, max_value=3600, initial=30)
    labels = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="one name=value per line")
    auth_type = forms.ChoiceField(choices=AuthType.choices, initial=AuthType.NONE)
    username = forms.CharField(required=False, max_length=200)
    password = forms.CharField(required=False, max_length=500, widget=forms.PasswordInput)
    bearer_token = forms.CharField(required=False, max_length=4000, widget=forms.PasswordInput)

    def clean_labels(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in (self.cleaned_data.get("labels") or "").splitlines():
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            if not sep:
                raise forms.ValidationError(f"{line.strip()!r}: expected name=value")
            out[name.strip()] = value.strip()
        return out

    def attrs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for secret in ("password", "bearer_token"):
            if not data.get(secret):
                data.pop(secret, None)
        return data
