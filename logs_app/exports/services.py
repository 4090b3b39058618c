"""Export services: create (quota, query check), cancel, delete, run (the task body), cleanup, schedules.

Views and tasks call these; they take `org` and ids. The task body streams `store.iter_records` into an
`ExportWriter`, reporting progress and polling the cancel flag with one conditional UPDATE per batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.models import Sum
from django.utils import timezone

from logs_app.exports import ch_stream, links, pg_stream
from logs_app.exports.models import FINISHED, Export, ExportFormat, ExportSchedule, ExportStatus
from logs_app.exports.writer import ExportWriter, PartsWriter
from portal.core.task_policy import enqueue_on_commit
from portal.errors import ServiceError
from portal.tenancy import audit
from portal.tenancy.audit import Actor
from portal.tenancy.context import context_for
from portal.tenancy.models import ROLE_RANK, Organization, Role
from portal.tenancy.writes import ModelWrites

log = logging.getLogger(__name__)

# Progress is written (and the cancel flag read) every PROGRESS_ROWS rows or PROGRESS_SECONDS, whichever first.
PROGRESS_ROWS = 20_000
PROGRESS_SECONDS = 0.5
MAX_RANGE = timedelta(days=400)
# The PostgreSQL and ClickHouse stores' rows are formatted by the database (pg_stream, ch_stream); False
# forces the generic path.
FAST_PATH = True
# Who may hold a schedule (the schedules API's write role) and fetch a download link (anyone who may export).
SCHEDULE_ROLE = Role.EDITOR
DOWNLOAD_ROLE = Role.VIEWER


@dataclass(frozen=True)
class ExportRequest:
    query: str
    start: datetime
    end: datetime
    format: str = ExportFormat.CSV
    gzip: bool = True


def quota_bytes() -> int:
    return int(settings.EXPORTS_QUOTA_BYTES)


def used_bytes(org: Organization) -> int:
    """Bytes this org's kept export files take (finished and not yet expired)."""
    total = Export.objects.for_org(org).filter(status=ExportStatus.DONE).aggregate(s=Sum("size_bytes"))["s"]
    return int(total or 0)


def check_query(query: str) -> None:
    """Reject a bad query now (400) rather than in the task. `org=` is refused: an export is always
    of the caller's own org, which comes from the token or session, never from the query."""
    from logs_app.query.errors import QueryError
    from logs_app.query.parser import parse, split_org_terms

    try:
        _, org_terms = split_org_terms(parse(query))
    except QueryError as e:
        raise ServiceError(400, "invalid_query", f"Invalid search: {e}", e.details()) from e
    if org_terms:
        raise ServiceError(400, "invalid_query", "org= is not allowed in an export: it always covers your own "
                           "organization.", {"position": org_terms[0].position, "query": query})


def validate_request(req: ExportRequest) -> None:
    if req.format not in ExportFormat.values:
        raise ServiceError(400, "invalid", f"format must be one of {', '.join(ExportFormat.values)}.")
    if req.start.tzinfo is None or req.end.tzinfo is None:
        raise ServiceError(400, "invalid", "start and end need a timezone.")
    if req.end <= req.start:
        raise ServiceError(400, "invalid", "end must be after start.")
    if req.end - req.start > MAX_RANGE:
        raise ServiceError(400, "invalid", f"The time range may span at most {MAX_RANGE.days} days.")
    if len(req.query) > 2000:
        raise ServiceError(400, "invalid", "The query is longer than 2000 characters.")


def create_export(org: Organization, user: Any, req: ExportRequest, *,
                  schedule: ExportSchedule | None = None, actor: Actor | None = None) -> Export:
    """Validate, check the quota, save a pending export (audited when an actor asked for it: a schedule's
    runs are not) and queue the task once the row is committed. `user` is whom the export is for."""
    validate_request(req)
    used, quota = used_bytes(org), quota_bytes()
    if used >= quota:
        raise ServiceError(409, "quota_exceeded",
                           f"This organization's exports use {used} of {quota} bytes; delete some first.",
                           {"used_bytes": used, "quota_bytes": quota})
    check_query(req.query)
    from logs_app.exports import tasks

    with transaction.atomic():
        export = Export.objects.create(
            org=org, created_by=user if getattr(user, "is_authenticated", False) else None, schedule=schedule,
            query=req.query, start=req.start, end=req.end, format=req.format, gzip=req.gzip,
            expires_at=timezone.now() + timedelta(hours=settings.EXPORTS_TTL_HOURS),
        )
        if actor is not None:
            audit.record(actor, "create", export, {"query": export.query, "format": export.format})
        enqueue_on_commit(tasks.run_export, export.pk, on_failure=lambda: _fail(
            export.pk, "The task queue is unavailable, so the export was not started; create it again."))
    return export


def get_export(org: Organization, export_id: int) -> Export:
    export = Export.objects.for_org(org).filter(pk=export_id).first()
    if export is None:
        raise ServiceError(404, "not_found", "Export not found.")
    return export


def cancel_export(org: Organization, export_id: int) -> Export:
    """A pending export is cancelled at once; a running one when the task next reports progress."""
    export = get_export(org, export_id)
    qs = Export.objects.for_org(org).filter(pk=export.pk)
    cancelled_pending = qs.filter(status=ExportStatus.PENDING).update(
        status=ExportStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now())
    if not cancelled_pending:
        if export.status in FINISHED:
            raise ServiceError(409, "finished", f"The export is already {export.status}.")
        qs.update(cancel_requested=True)
    export.refresh_from_db()
    return export


def delete_export(actor: Actor, org: Organization, export_id: int) -> None:
    with transaction.atomic():
        export = get_export(org, export_id)
        if export.status == ExportStatus.RUNNING:
            raise ServiceError(409, "running", "Cancel the running export before deleting it.")
        audit.record(actor, "delete", export, {})
        _remove_file(export)
        export.delete()


def record_download(export: Export, caller: Any, ip: str | None) -> None:
    """Audit one fetch of an export's link. `caller` is None for an anonymous fetch of the signed link,
    which is then recorded as its requester's."""
    actor = Actor(user=caller or export.created_by, org=export.org, ip=ip)
    audit.record(actor, "download", export, {"link_of": export.created_by.email if export.created_by else "",
                                             "caller": caller.email if caller else "anonymous (signed link)"})


def _remove_file(export: Export) -> None:
    path = export.file_path()
    if path is not None:
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".part").unlink(missing_ok=True)


class _Progress:
    """Writes progress and reads the cancel flag while the store iterates.

    The PostgreSQL store holds a transaction on the default connection for its server-side cursor, so
    progress written there would stay invisible (and lock the row against a cancel) until the end. When
    the export row is visible from a second connection, progress goes through that one (autocommit);
    otherwise (inside a test's transaction) through the default connection.
    """

    def __init__(self, export_id: int, *, default_ok: bool = True) -> None:
        # On the PostgreSQL fast path the default connection is busy streaming the COPY: no other
        # statement may run on it until the COPY ends, so without a second connection progress waits.
        self.default_ok = default_ok
        self.export_id = export_id
        self.table = Export._meta.db_table
        self.side: Any = None
        try:
            side = connections.create_connection(DEFAULT_DB_ALIAS)
            with side.cursor() as c:
                c.execute(f"SELECT 1 FROM {self.table} WHERE id = %s", [export_id])  # noqa: S608 - model table
                if c.fetchone() is not None:
                    self.side = side
            if self.side is None:
                side.close()
        except DatabaseError:
            self.side = None

    def report(self, rows: int) -> bool:
        """Record `rows`; False when a cancel was requested (one statement does both)."""
        if self.side is None:
            if not self.default_ok:
                return True
            return bool(Export.objects.all_orgs().filter(pk=self.export_id, cancel_requested=False)
                        .update(rows_written=rows))
        with self.side.cursor() as c:
            c.execute(f"UPDATE {self.table} SET rows_written = %s WHERE id = %s AND cancel_requested = %s",  # noqa: S608
                      [rows, self.export_id, False])
            return bool(c.rowcount)

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
            self.side = None


class _Cancelled(Exception):
    pass


class _QuotaHit(Exception):
    pass


def run_export(export_id: int) -> str:
    """The task body: claim the pending export, stream every record to the file, finish or clean up.

    Returns the final status. Safe to replay: a claimed or finished export is left alone.
    """
    from logs_app.store import get_store

    now = timezone.now()
    if not Export.objects.all_orgs().filter(pk=export_id, status=ExportStatus.PENDING).update(
            status=ExportStatus.RUNNING, started_at=now):
        row = Export.objects.all_orgs().filter(pk=export_id).values_list("status", flat=True).first()
        return str(row or "gone")
    export = Export.objects.all_orgs().select_related("org").get(pk=export_id)
    org = export.org
    store = get_store()
    rows_qs = Export.objects.all_orgs().filter(pk=export_id)
    try:
        total = store.count(org, export.query, export.start, export.end)
    except Exception as e:  # noqa: BLE001 - reported on the export, not raised into the worker
        return _fail(export_id, f"counting failed: {e}")
    export.file_name = f"export-{export.pk}-{int(now.timestamp())}{export.extension}"
    rows_qs.update(rows_total=total, file_name=export.file_name)
    path = export.file_path()
    assert path is not None
    budget = quota_bytes() - used_bytes(org)
    writer, stream, copying = _open(path, store, export)
    progress = _Progress(export_id, default_ok=not copying)
    reported, last_report = 0, time.monotonic()
    try:
        for n in stream:
            if n - reported >= PROGRESS_ROWS or time.monotonic() - last_report > PROGRESS_SECONDS:
                reported, last_report = n, time.monotonic()
                if not progress.report(n):
                    raise _Cancelled()
                if writer.bytes_written() > budget:
                    raise _QuotaHit()
        size = writer.close()
        progress.close()
    except _Cancelled:
        writer.abort()
        stream.close()
        progress.close()
        rows_qs.update(status=ExportStatus.CANCELLED, finished_at=timezone.now())
        return ExportStatus.CANCELLED
    except _QuotaHit:
        writer.abort()
        stream.close()
        progress.close()
        return _fail(export_id, f"The organization's export quota ({quota_bytes()} bytes) was reached.")
    except Exception as e:
        writer.abort()
        stream.close()
        progress.close()
        log.exception("export %s failed", export_id)
        return _fail(export_id, str(e) or type(e).__name__)
    if size > budget:
        _remove_file(export)
        return _fail(export_id, f"The organization's export quota ({quota_bytes()} bytes) was reached.")
    updated = rows_qs.filter(cancel_requested=False).update(
        status=ExportStatus.DONE, rows_written=writer.rows, size_bytes=size, finished_at=timezone.now(),
        rows_total=max(total, writer.rows))
    if not updated:  # cancelled after the last row: honour it
        _remove_file(export)
        rows_qs.update(status=ExportStatus.CANCELLED, finished_at=timezone.now())
        return ExportStatus.CANCELLED
    if export.schedule_id is not None:
        notify_owner(export_id)
    return ExportStatus.DONE


def _open(path: Any, store: Any, export: Export) -> tuple[ExportWriter | PartsWriter, Generator[int, None, None], bool]:
    """The file's writer and the generator filling it, on the store's fast path when it has one; the flag
    says the default connection is busy streaming (PostgreSQL's COPY) while the generator runs."""
    if FAST_PATH and ch_stream.supports(store):
        parts = PartsWriter(path, export.format, export.gzip)
        return parts, ch_stream.iter_parts(store, parts, export.org, export.query, export.start, export.end,
                                           export.format), False
    writer = ExportWriter(path, export.format, export.gzip)
    fast = FAST_PATH and pg_stream.supports(store)
    return writer, _write_all(writer, store, export, fast), fast


def _write_all(writer: ExportWriter, store: Any, export: Export, fast: bool) -> Generator[int, None, None]:
    """Write every matching record; yields the running line count (per record, or per batch on the
    PostgreSQL fast path) so the caller can report progress and stop between batches."""
    if fast:
        chunks = pg_stream.iter_chunks(store, export.org, export.query, export.start, export.end, export.format)
        try:
            for data, lines in chunks:
                writer.write_bytes(data, lines)
                yield writer.rows
        finally:
            chunks.close()
        return
    records = store.iter_records(export.org, export.query, export.start, export.end)
    try:
        for record in records:
            writer.write(record)
            yield writer.rows
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()


def _fail(export_id: int, message: str) -> str:
    Export.objects.all_orgs().filter(pk=export_id).update(status=ExportStatus.FAILED, error=message[:2000],
                                                          finished_at=timezone.now())
    return ExportStatus.FAILED


def notify_owner(export_id: int) -> bool:
    """Mail the schedule's owner the signed link of a finished scheduled export."""
    export = Export.objects.all_orgs().select_related("schedule", "schedule__owner", "org").get(pk=export_id)
    schedule = export.schedule
    if schedule is None or not schedule.owner.email or not member_may(schedule.owner, export.org, DOWNLOAD_ROLE):
        return False  # an owner removed while the export ran gets no link
    url = links.download_url(export)
    body = (f"Your scheduled log export \"{schedule.name}\" for {export.org.name} is ready.\n\n"
            f"Query: {export.query or '(all records)'}\n"
            f"Range: {export.start:%Y-%m-%d %H:%M} to {export.end:%Y-%m-%d %H:%M} UTC\n"
            f"Rows: {export.rows_written}, size: {export.size_bytes} bytes\n\n"
            f"Download (link valid until {export.expires_at:%Y-%m-%d %H:%M} UTC):\n{url}\n")
    send_mail(f"[{export.org.name}] Log export ready: {schedule.name}", body, settings.DEFAULT_FROM_EMAIL,
              [schedule.owner.email])
    return True


def cleanup_expired(now: datetime | None = None) -> int:
    """Delete the files of expired exports (every org) and mark them expired; returns how many."""
    now = now or timezone.now()
    count = 0
    for export in Export.objects.all_orgs().filter(expires_at__lte=now).exclude(status=ExportStatus.EXPIRED) \
            .exclude(status=ExportStatus.RUNNING).iterator():
        _remove_file(export)
        Export.objects.all_orgs().filter(pk=export.pk).update(status=ExportStatus.EXPIRED, size_bytes=0)
        count += 1
    return count


# -- schedules ----------------------------------------------------------------------------------------

def save_schedule(schedule: ExportSchedule) -> ExportSchedule:
    check_query(schedule.query)
    if schedule.frequency == ExportSchedule.Frequency.WEEKLY and not 0 <= schedule.weekday <= 6:
        raise ServiceError(400, "invalid", "weekday must be 0 (Monday) to 6 (Sunday).")
    schedule.next_run_at = schedule.compute_next_run() if schedule.enabled else None
    schedule.save()
    return schedule


class ScheduleWrites(ModelWrites[ExportSchedule]):
    """A schedule belongs to whoever creates it (they get the e-mails); every save recomputes its next run."""

    def create(self, actor: Actor, org: Organization, data: dict[str, Any]) -> ExportSchedule:
        return super().create(actor, org, {**data, "owner": actor.user})

    def save(self, obj: ExportSchedule, data: dict[str, Any]) -> None:
        self.assign(obj, data)
        save_schedule(obj)


SCHEDULES = ScheduleWrites(ExportSchedule)


def run_due_schedules(now: datetime | None = None) -> list[int]:
    """Start an export for every due schedule (every org); returns the new export ids.

    Each schedule is claimed by moving its next_run_at forward with a conditional UPDATE, so two beat
    ticks (or two workers) never start the same run twice.
    """
    now = now or timezone.now()
    started: list[int] = []
    due = ExportSchedule.objects.all_orgs().filter(enabled=True, next_run_at__lte=now).select_related("org", "owner")
    for schedule in due:
        if not member_may(schedule.owner, schedule.org, SCHEDULE_ROLE):
            # The membership ended outside the member services (e.g. the admin site): stop here too.
            with transaction.atomic():
                pause_schedule(schedule, "the owner may no longer schedule exports in this organization")
            continue
        claimed = ExportSchedule.objects.all_orgs().filter(pk=schedule.pk, next_run_at=schedule.next_run_at).update(
            next_run_at=schedule.compute_next_run(now), last_run_at=now)
        if not claimed:
            continue
        req = ExportRequest(query=schedule.query, start=now - schedule.window(), end=now,
                            format=schedule.format, gzip=schedule.gzip)
        try:
            export = create_export(schedule.org, schedule.owner, req, schedule=schedule)
        except ServiceError as e:
            log.warning("scheduled export %s not started: %s", schedule.pk, e.message)
            continue
        started.append(export.pk)
    return started


# -- membership ends access ---------------------------------------------------------------------------

def member_may(user: Any, org: Organization, role: str) -> bool:
    """Whether `user` is (still) an active member of `org` with at least `role` (staff count as admins)."""
    if user is None or not user.is_active:
        return False
    ctx = context_for(user, org)
    return ctx is not None and ctx.has_role(role)


def pause_schedule(schedule: ExportSchedule, reason: str, *, actor: Actor | None = None) -> None:
    schedule.enabled = False
    schedule.next_run_at = None
    schedule.save(update_fields=["enabled", "next_run_at"])
    audit.record(actor, "pause", schedule, {"enabled": {"from": True, "to": False}, "reason": reason,
                                            "owner": schedule.owner.email}, org=schedule.org)


def end_member_access(org: Organization, user: Any, role: str | None, *, actor: Actor | None = None) -> None:
    """Run in the transaction that removes a member (role None) or lowers their role: pause the schedules
    they may no longer hold (audited) and, when removed, cancel the exports they left unfinished. Their
    download links stop working by themselves: a link is served only while its requester is a member."""
    if role is None or ROLE_RANK[Role(role)] < ROLE_RANK[SCHEDULE_ROLE]:
        reason = "owner removed from the organization" if role is None else f"owner's role lowered to {role}"
        for schedule in ExportSchedule.objects.for_org(org).select_for_update().filter(owner=user, enabled=True):
            pause_schedule(schedule, reason, actor=actor)
    if role is None:
        unfinished = Export.objects.for_org(org).filter(created_by=user).exclude(status__in=FINISHED)
        unfinished.filter(status=ExportStatus.PENDING).update(status=ExportStatus.CANCELLED, cancel_requested=True,
                                                              finished_at=timezone.now())
        unfinished.update(cancel_requested=True)
