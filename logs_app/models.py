"""Models of logs_app."""

from logs_app.exports.models import *  # noqa: F403 - export models (issue 9) live in logs_app/exports/
