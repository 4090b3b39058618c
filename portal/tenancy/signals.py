"""Signals the apps hook to end what a member's access kept running (export schedules, and the like).

`access_reduced` is sent by `services.remove_member` and `services.change_role` (when the role goes down)
inside their transaction, so a receiver's writes commit or roll back with the membership change itself.
Keyword arguments: `org`, `user`, `role` (the new role; None when the member was removed), `actor` (the
`audit.Actor` who made the change, or None for the system).
"""

from __future__ import annotations

from django.dispatch import Signal

access_reduced = Signal()
