"""Sync the database into Prometheus and Alertmanager: render → validate (promtool/amtool) → write
atomically → reload → read back what was really loaded → record each rule's sync state.

`sync_orgs([id])` is the per-change path (that org's rule file + the shared Alertmanager config);
`sync_orgs(None)` is the reconcile (every org, orphan files removed, drift repaired). Both hold the
one sync lock, so syncs are serialized; per-org generation counters coalesce bursts.

Fault isolation: Prometheus and Alertmanager are shared, so one org's bad part must not stop the others.
Rule files are per org and checked per file; a file Prometheus refuses on reload is set aside. The
Alertmanager config is checked whole and, when amtool refuses it, per org (bisection): an org whose part
fails keeps its last accepted part (or is left out) and alone shows the error."""

from __future__ import annotations

import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from metrics_app import platform_series
from metrics_app.labels import one_lookup
from portal.backends.alertmanager import AlertmanagerClient
from portal.backends.errors import BackendError, BackendUnavailable
from portal.backends.prometheus import PrometheusClient, managed_prometheus
from portal.core.task_policy import enqueue_on_commit
from portal.tenancy.models import Organization

from . import checks, render, secrets
from .locking import sync_lock
from .models import Channel, NotificationPolicy, OrgSync, RecordingRule, Rule, RuleKind, SyncState
from .render import OrgFragment

log = logging.getLogger(__name__)
_RECEIVER_RE = re.compile(r"^- name: ['\"]?([^'\"\s]+)", re.M)
_AMTOOL_REASON_RE = re.compile(r"FAILED: (.+)")
AM_ORG_ERROR = "amtool check-config rejected this organization's notification settings"
RULES_SET_ASIDE = "Prometheus refused to reload with this organization's rule file on disk"


@dataclass
class AlertmanagerPlan:
    """What to write: every org's part that amtool accepts, plus the last accepted part (or nothing) of
    the orgs whose new part it refuses."""

    text: str
    secret_files: dict[str, str] = field(default_factory=dict)
    org_errors: dict[int, str] = field(default_factory=dict)
    error: str = ""  # a failure no org's part explains (the global section): nothing is written
    kept_files: set[str] = field(default_factory=set)  # secret files the kept (last accepted) parts name


@dataclass
class SyncReport:
    orgs: int = 0
    files_written: int = 0
    files_removed: int = 0
    am_written: bool = False
    reloaded_prometheus: bool = False
    reloaded_alertmanager: bool = False
    synced: int = 0
    errors: dict[int, str] = field(default_factory=dict)
    coalesced: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    def mark(self, step: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[step] = round(now - since, 3)
        return now


def request_sync(org: Organization, rule_ids: list[int] | None = None) -> None:
    """Call inside the transaction that changed the org's alerting config: marks rules pending, bumps the
    org's generation, and queues one sync after commit."""
    if rule_ids:
        Rule.objects.for_org(org).filter(id__in=rule_ids).update(sync_state=SyncState.PENDING, sync_error="")
    state, _ = OrgSync.objects.all_orgs().get_or_create(org=org)
    OrgSync.objects.for_org(org).filter(pk=state.pk).update(requested=F("requested") + 1)
    from .tasks import sync_org_task

    enqueue_on_commit(sync_org_task, int(org.pk))


def sync_org(org_id: int) -> SyncReport:
    """One org's change. Returns quickly (coalesced) when a sync already covered its generation."""
    state = OrgSync.objects.all_orgs().filter(org_id=org_id).first()
    if state is None:
        state = OrgSync.objects.all_orgs().get_or_create(org_id=org_id)[0]
    with sync_lock(), one_lookup():  # one datasource lookup for every org label rendered
        state.refresh_from_db()
        if state.done >= state.requested and state.requested > 0:
            return SyncReport(coalesced=True)
        generation = state.requested
        report = _sync([org_id])
        if org_id not in report.errors or not report.errors[org_id].startswith(("prometheus", "alertmanager")):
            OrgSync.objects.all_orgs().filter(org_id=org_id, done__lt=generation).update(
                done=generation, last_error=report.errors.get(org_id, ""), last_synced_at=timezone.now())
        return report


def reconcile() -> SyncReport:
    with sync_lock(), one_lookup():  # one datasource lookup for every org label rendered
        return _sync(None)


def _sync(org_ids: list[int] | None) -> SyncReport:
    report = SyncReport()
    t = time.perf_counter()
    full = org_ids is None
    orgs_with_config = _orgs_with_config()
    target_ids = sorted(orgs_with_config if full else set(org_ids or []))
    orgs = {int(o.pk): o for o in Organization.objects.filter(id__in=set(target_ids) | orgs_with_config)}
    report.orgs = len(target_ids)

    # 1. Render and validate the rule files of the target orgs.
    rules_by_org, recording_by_org, channels_by_rule = _load_rules(target_ids)
    texts: dict[int, str] = {}
    render_failed: dict[int, dict[int, str]] = {}
    for org_id in target_ids:
        org = orgs.get(org_id)
        if org is None:
            continue
        text, failed = render.render_rules_file(org, rules_by_org.get(org_id, []),
                                                recording_by_org.get(org_id, []), channels_by_rule)
        texts[org_id] = text
        render_failed[org_id] = failed
    am_fragments = _render_am(orgs_with_config, orgs)
    t = report.mark("render", t)

    # 2. Validate: one promtool run over every changed rule file and amtool on the Alertmanager config,
    # side by side (two processes; no database work in the threads).
    changed = {oid: text for oid, text in texts.items() if _read(render.rules_path(oid)) != text}
    am_path = settings.ALERTMANAGER_CONFIG_FILE
    with ThreadPoolExecutor(max_workers=2) as pool:
        rules_check = pool.submit(checks.check_rules_many, {str(k): v for k, v in changed.items()})
        am_check = pool.submit(_plan_alertmanager, am_fragments, _read(am_path))
        invalid = rules_check.result()
        plan = am_check.result()
    am_error = plan.error
    if am_error:
        log.error(am_error)
    t = report.mark("validate", t)

    # 3. Write what passed, atomically; a file that failed validation is never written.
    for key, err in invalid.items():
        report.errors[int(key)] = f"promtool check rules rejected the rule file; nothing was written: {err}"
    for org_id, text in changed.items():
        if str(org_id) in invalid:
            continue
        checks.atomic_write(render.rules_path(org_id), text)
        report.files_written += 1
    if full:
        report.files_written += platform_series.write_rules_file()  # the platform series' own rule file
        report.files_removed = _remove_orphans(set(texts))
    for org_id, msg in plan.org_errors.items():
        log.warning("org %s: %s", org_id, msg)
        report.errors[org_id] = "\n".join(filter(None, [report.errors.get(org_id), msg]))
    if not am_error:
        _write_alertmanager(report, am_path, plan)
    t = report.mark("write", t)

    # 4. Reload both backends and read back what they really loaded (in parallel: HTTP only).
    expected = _expected_ids(target_ids, rules_by_org, render_failed, invalid)
    wanted = (set(target_ids) & orgs_with_config) - set(plan.org_errors)
    set_aside: dict[int, str] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        prom_job = pool.submit(_prometheus_phase, report, full, expected, set_aside)
        am_job = pool.submit(_alertmanager_phase, report, wanted)
        loaded, prom_error = prom_job.result()
        am_backend_error = am_job.result()
    backend_exc = prom_error or am_backend_error
    backend_error = str(backend_exc) if backend_exc is not None else ""
    for org_id, msg in set_aside.items():
        log.warning("org %s: %s", org_id, msg)
        report.errors[org_id] = "\n".join(filter(None, [report.errors.get(org_id), msg]))
    t = report.mark("reload_read_back", t)

    # 4. Record each rule's state: one transaction, bulk updates (1,000 orgs must not mean 2,000 commits).
    now = timezone.now()
    synced_ids: list[int] = []
    errors: dict[str, list[int]] = {}
    for org_id in target_ids:
        org_error = report.errors.get(org_id, "") or am_error or backend_error
        failed = render_failed.get(org_id, {})
        for rule in rules_by_org.get(org_id, []):
            rid = int(rule.pk)
            if rid in failed:
                errors.setdefault(f"could not render: {failed[rid]}", []).append(rid)
            elif org_error:
                errors.setdefault(org_error, []).append(rid)
            elif (rule.enabled and rule.kind != RuleKind.LOG and loaded is not None
                  and str(rid) not in loaded):
                errors.setdefault("Prometheus did not load this rule", []).append(rid)
            elif rule.sync_state != SyncState.SYNCED or rule.sync_error:
                synced_ids.append(rid)
        if org_error:
            report.errors[org_id] = org_error
    report.synced = sum(len(v) for v in rules_by_org.values()) - sum(len(v) for v in errors.values())
    with transaction.atomic():
        for chunk in _chunks(synced_ids):
            Rule.objects.all_orgs().filter(id__in=chunk).update(sync_state=SyncState.SYNCED, sync_error="",
                                                                synced_at=now)
        for msg, ids in errors.items():
            for chunk in _chunks(ids):
                Rule.objects.all_orgs().filter(id__in=chunk).update(sync_state=SyncState.ERROR,
                                                                    sync_error=msg[:4000])
        _record_isolated(report, target_ids, {**plan.org_errors, **set_aside}, full)
    report.mark("record_states", t)
    if backend_exc is not None:
        raise backend_exc
    return report


def _prometheus_phase(report: SyncReport, full: bool, expected: set[str],
                      set_aside: dict[int, str]) -> tuple[set[str] | None, BackendError | None]:
    prom = managed_prometheus()
    if not prom.configured:
        return None, None
    try:
        t = time.perf_counter()
        if report.files_written or report.files_removed or full:
            _reload_prometheus(prom, set_aside)
            report.reloaded_prometheus = True
        t = report.mark("prometheus_reload", t)
        loaded = _loaded_rule_ids(prom)
        report.mark("prometheus_read_back", t)
        if full and not expected <= loaded:
            # Drift between disk and memory (a reload that failed, a file edited back): reload once more.
            _reload_prometheus(prom, set_aside)
            loaded = _loaded_rule_ids(prom)
        return loaded, None
    except BackendError as exc:
        return None, exc


def _alertmanager_phase(report: SyncReport, wanted: set[int]) -> BackendError | None:
    am = AlertmanagerClient()
    if not am.configured:
        return None
    try:
        t = time.perf_counter()
        if report.am_written or not _am_has_receivers(am, wanted):
            t = report.mark("alertmanager_status", t)
            am.reload()
            report.reloaded_alertmanager = True
            t = report.mark("alertmanager_reload", t)
            if not _am_has_receivers(am, wanted):
                # Transient as far as we can tell: a reload racing another one; the retry reloads again.
                return BackendUnavailable(am.name, "did not load the generated config (receivers missing "
                                                   "after reload)")
    except BackendError as exc:
        return exc
    return None


def _reload_prometheus(prom: PrometheusClient, set_aside: dict[int, str]) -> None:
    """Prometheus refuses a whole reload for one bad rule file, also one written before this sync (by
    hand, or by a version whose checks were laxer): set the org files promtool refuses aside and retry."""
    try:
        prom.reload()
    except BackendUnavailable as exc:
        if exc.status is None:  # not an answer from Prometheus: nothing to isolate
            raise
        bad = _set_aside_invalid_rule_files()
        if not bad:
            raise
        set_aside.update(bad)
        prom.reload()


def _set_aside_invalid_rule_files() -> dict[int, str]:
    on_disk: dict[str, str] = {}
    for path in render.rules_path(0).parent.glob("portal-org-*.yml"):
        try:
            org_id = int(path.stem.rsplit("-", 1)[1])
        except ValueError:
            continue
        on_disk[str(org_id)] = _read(path) or ""
    out: dict[int, str] = {}
    for key, err in checks.check_rules_many(on_disk).items():
        path = render.rules_path(int(key))
        # Kept beside (not matched by Prometheus' *.yml glob) for the operator; the reconcile writes a
        # validated file again from the database.
        path.replace(path.with_name(f".{path.name}.rejected"))
        out[int(key)] = f"{RULES_SET_ASIDE}; it was set aside so the other organizations' rules load: {err}"
    return out


def _plan_alertmanager(fragments: dict[int, OrgFragment], on_disk: str | None) -> AlertmanagerPlan:
    """Check the config of every org together; when amtool refuses it, find the orgs whose part it
    refuses (bisection: a few amtool runs, not one per org) and plan a config without their new part."""
    frags = [fragments[k] for k in sorted(fragments)]
    text = render.assemble_alertmanager_config(frags)
    secret_files = {name: content for f in frags for name, content in f.secret_files.items()}
    if text == on_disk:
        return AlertmanagerPlan(text, secret_files)
    try:
        checks.check_alertmanager_config(text)
        return AlertmanagerPlan(text, secret_files)
    except checks.CheckFailed as exc:
        whole = exc.output
    try:
        checks.check_alertmanager_config(render.assemble_alertmanager_config([]))
        bad = _refused_parts(frags, known_refused=True)
    except checks.CheckFailed as exc:
        whole, bad = exc.output, {}
    if not bad:
        return AlertmanagerPlan("", error="amtool check-config rejected the Alertmanager config; nothing was "
                                          f"written: {whole}")
    good = [f for f in frags if f.org_id not in bad]
    previous = render.parse_fragments(on_disk)
    kept = {i: previous[i] for i in bad if i in previous}
    text = render.assemble_alertmanager_config(sorted([*good, *kept.values()], key=lambda f: f.org_id))
    if kept:
        try:
            checks.check_alertmanager_config(text)
        except checks.CheckFailed:  # the old part no longer loads beside the new ones either
            kept = {}
            text = render.assemble_alertmanager_config(good)
    errors = {org_id: f"{AM_ORG_ERROR}; " + ("its last accepted version stays in use" if org_id in kept
                                             else "it is left out of Alertmanager") + f": {reason}"
              for org_id, reason in bad.items()}
    secret_files = {name: content for f in good for name, content in f.secret_files.items()}
    kept_files = {path for f in kept.values() for path in render.fragment_files(f)}
    return AlertmanagerPlan(text, secret_files, errors, kept_files=kept_files)


def _refused_parts(frags: list[OrgFragment], *, known_refused: bool = False) -> dict[int, str]:
    """{org id: amtool's reason} for each part amtool refuses. Names are per org, so parts that pass
    alone pass together: when a refused set's first half passes, its second half needs no check."""
    if not frags:
        return {}
    if len(frags) == 1 or not known_refused:
        try:
            checks.check_alertmanager_config(render.assemble_alertmanager_config(frags))
            return {}
        except checks.CheckFailed as exc:
            if len(frags) == 1:
                m = _AMTOOL_REASON_RE.search(exc.output)
                return {frags[0].org_id: m.group(1).strip() if m else exc.output}
    mid = len(frags) // 2
    first = _refused_parts(frags[:mid])
    return {**first, **_refused_parts(frags[mid:], known_refused=not first)}


def _write_alertmanager(report: SyncReport, am_path: Any, plan: AlertmanagerPlan) -> None:
    """Secrets first (the config names them), each in its own 0600 file; then the config (0600 too: its
    hook URLs and routing are the org's business); then secrets no longer named."""
    directory = render.secrets_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    on_disk = {e.name: e for e in os.scandir(directory) if e.is_file() and not e.name.startswith(".")}
    for name, content in plan.secret_files.items():
        entry = on_disk.get(name)
        # Thousands of these per reconcile: compare in place, write only what differs (or is too open).
        if entry is not None and not entry.stat().st_mode & 0o077:
            with open(entry.path, "rb") as fh:
                if fh.read() == content.encode():
                    continue
        checks.atomic_write(directory / name, content, private=True)
    report.am_written = checks.atomic_write(am_path, plan.text, private=True)
    for name, entry in on_disk.items():
        if name not in plan.secret_files and entry.path not in plan.kept_files:
            os.unlink(entry.path)


def _record_isolated(report: SyncReport, target_ids: list[int], isolated: dict[int, str], full: bool) -> None:
    """An org set aside shows its own error, also when another org's sync found it; the reconcile clears
    the error of an org whose part is accepted again."""
    targets = set(target_ids)
    for org_id, msg in isolated.items():
        OrgSync.objects.all_orgs().get_or_create(org_id=org_id)
        OrgSync.objects.all_orgs().filter(org_id=org_id).update(last_error=report.errors.get(org_id, msg)[:4000])
        if org_id not in targets:
            Rule.objects.all_orgs().filter(org_id=org_id).update(sync_state=SyncState.ERROR,
                                                                sync_error=msg[:4000])
    if full:
        for prefix in (AM_ORG_ERROR, RULES_SET_ASIDE):
            OrgSync.objects.all_orgs().filter(org_id__in=targets - set(report.errors),
                                              last_error__startswith=prefix).update(last_error="")


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def _read(path: Any) -> str | None:
    try:
        return str(path.read_text())
    except FileNotFoundError:
        return None


def _orgs_with_config() -> set[int]:
    ids: set[int] = set()
    for model in (Rule, RecordingRule, Channel):
        ids.update(model.objects.all_orgs().values_list("org_id", flat=True).distinct())
    return ids


def _load_rules(org_ids: list[int]) -> tuple[dict[int, list[Rule]], dict[int, list[RecordingRule]],
                                             dict[int, list[int]]]:
    rules: dict[int, list[Rule]] = {}
    for r in Rule.objects.all_orgs().filter(org_id__in=org_ids).order_by("org_id", "group", "id"):
        rules.setdefault(int(r.org_id), []).append(r)
    recording: dict[int, list[RecordingRule]] = {}
    for rec in RecordingRule.objects.all_orgs().filter(org_id__in=org_ids).order_by("org_id", "group", "id"):
        recording.setdefault(int(rec.org_id), []).append(rec)
    by_rule: dict[int, list[int]] = {}
    for rule_id, channel_id in Rule.channels.through.objects.filter(rule__org_id__in=org_ids).values_list(
            "rule_id", "channel_id"):
        by_rule.setdefault(rule_id, []).append(channel_id)
    return rules, recording, by_rule


def _render_am(org_ids: set[int], orgs: dict[int, Organization]) -> dict[int, OrgFragment]:
    channels: dict[int, list[Channel]] = {}
    chan_secrets: dict[int, dict[str, Any]] = {}
    for ch in Channel.objects.all_orgs().filter(org_id__in=org_ids).order_by("org_id", "id"):
        channels.setdefault(int(ch.org_id), []).append(ch)
        chan_secrets[int(ch.pk)] = secrets.read(ch)
    policies = {int(p.org_id): p for p in NotificationPolicy.objects.all_orgs().filter(org_id__in=org_ids)}
    return {i: render.org_fragment(orgs[i], channels.get(i, []), policies.get(i), chan_secrets)
            for i in sorted(org_ids) if i in orgs}


def _remove_orphans(keep: set[int]) -> int:
    removed = 0
    for path in render.rules_path(0).parent.glob("portal-org-*.yml"):
        try:
            org_id = int(path.stem.rsplit("-", 1)[1])
        except ValueError:
            continue
        if org_id not in keep:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _loaded_rule_ids(prom: PrometheusClient) -> set[str]:
    ids: set[str] = set()
    for group in prom.rule_groups():
        for rule in group.get("rules", []):
            rid = rule.get("labels", {}).get(render.RULE_LABEL)
            if rule.get("type") == "alerting" and rid:
                ids.add(str(rid))
    return ids


def _expected_ids(org_ids: list[int], rules_by_org: dict[int, list[Rule]], failed: dict[int, dict[int, str]],
                  invalid: dict[str, str]) -> set[str]:
    out: set[str] = set()
    for org_id in org_ids:
        if str(org_id) in invalid:
            continue
        for r in rules_by_org.get(org_id, []):
            if r.enabled and r.kind != RuleKind.LOG and int(r.pk) not in failed.get(org_id, {}):
                out.add(str(r.pk))
    return out


def _am_has_receivers(am: AlertmanagerClient, org_ids: set[int]) -> bool:
    original = am.status().get("config", {}).get("original", "")
    # Alertmanager re-serializes what it loaded; receiver entries read `- name: <name>`. A regex over
    # 1 MB beats parsing it as YAML by seconds.
    loaded = set(_RECEIVER_RE.findall(original))
    return all(f"org{i}-history" in loaded for i in org_ids)


def org_sync_status(org: Organization) -> dict[str, Any]:
    state = OrgSync.objects.for_org(org).first()
    counts = {s: Rule.objects.for_org(org).filter(sync_state=s).count() for s in SyncState.values}
    return {"requested": state.requested if state else 0, "done": state.done if state else 0,
            "last_error": state.last_error if state else "",
            "last_synced_at": state.last_synced_at if state else None, "rules": counts}
