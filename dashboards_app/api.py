"""REST API of dashboards and Explore (thin: parse, call one service, shape the answer)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.db import connections
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from dashboards_app import builtin, interpolate, querying, services
from dashboards_app.models import Dashboard, DashboardVersion, QueryHistory
from metrics_app.labels import org_label
from portal.core.parsers import json_object
from portal.errors import ServiceError
from portal.tenancy.api_base import OrgAPIView, OrgScopedGenericViewSet
from portal.tenancy.audit import actor_from


class DashboardSummarySerializer(serializers.ModelSerializer[Dashboard]):
    class Meta:
        model = Dashboard
        fields = ("uid", "title", "description", "tags", "version", "source", "created_at", "updated_at")


class VersionSerializer(serializers.ModelSerializer[DashboardVersion]):
    author = serializers.SerializerMethodField()

    class Meta:
        model = DashboardVersion
        fields = ("version", "message", "author", "created_at")

    def get_author(self, obj: DashboardVersion) -> str | None:
        return obj.author.email if obj.author else None


class HistorySerializer(serializers.ModelSerializer[QueryHistory]):
    class Meta:
        model = QueryHistory
        fields = ("id", "query", "created_at")


def _chosen_vars(request: Request) -> dict[str, Any]:
    """`var-<name>=value` (repeatable for multi-value), as Grafana URLs carry them."""
    out: dict[str, Any] = {}
    for key in request.query_params:
        if key.startswith("var-"):
            values = request.query_params.getlist(key)
            out[key[4:]] = values if len(values) > 1 else values[0]
    return out


def _panel_ids(request: Request) -> list[int] | None:
    raw = request.query_params.getlist("panel")
    try:
        return [int(p) for p in raw] or None
    except ValueError:
        raise ServiceError(400, "invalid_panel", "panel must be a panel id (integer).") from None


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ServiceError(400, "invalid", f"{name} must be an integer.") from None


class DashboardViewSet(mixins.ListModelMixin, OrgScopedGenericViewSet):
    """Org dashboards. Every save appends a version; viewers read only (writes need the editor role)."""

    model = Dashboard
    serializer_class = DashboardSummarySerializer
    lookup_field = "uid"
    audit_type = "dashboard"

    def scope_queryset(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        tag = self.request.query_params.get("tag")
        search = self.request.query_params.get("q")
        if tag:
            # JSON containment is PostgreSQL-only; elsewhere match the quoted tag in the JSON text.
            qs = qs.filter(tags__contains=[tag]) if connections[qs.db].vendor == "postgresql" \
                else qs.filter(tags__icontains=json.dumps(tag))
        if search:
            qs = qs.filter(title__icontains=search)
        return qs

    def retrieve(self, request: Request, uid: str) -> Response:
        return Response(services.document(services.get_dashboard(self.org, uid)))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def create(self, request: Request) -> Response:
        dash = services.create_dashboard(self.org, json_object(request), actor_from(request))
        return Response(services.document(dash), status=201)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def update(self, request: Request, uid: str) -> Response:
        data = dict(json_object(request))
        expected = data.pop("version", None)
        message = data.pop("message", "saved")
        data.pop("uid", None)
        dash = services.save_dashboard(self.org, uid, data, actor_from(request),
                                       expected_version=_int(expected, "version") if expected is not None else None,
                                       message=str(message))
        return Response(services.document(dash))

    def destroy(self, request: Request, uid: str) -> Response:
        services.delete_dashboard(self.org, uid, actor_from(request))
        return Response(status=204)

    @action(detail=True, methods=["get"])
    def versions(self, request: Request, uid: str) -> Response:
        return Response({"results": VersionSerializer(services.versions(self.org, uid), many=True).data})

    @action(detail=True, methods=["get"], url_path=r"versions/(?P<version>\d+)")
    def version(self, request: Request, uid: str, version: str) -> Response:
        ver = services.get_version(self.org, uid, int(version))
        return Response({**VersionSerializer(ver).data, "dashboard": ver.spec})

    @extend_schema(parameters=[OpenApiParameter("from", int), OpenApiParameter("to", int)])
    @action(detail=True, methods=["get"])
    def diff(self, request: Request, uid: str) -> Response:
        a = _int(request.query_params.get("from"), "from")
        b = _int(request.query_params.get("to"), "to")
        return Response(services.diff_versions(self.org, uid, a, b))

    @action(detail=True, methods=["post"])
    def restore(self, request: Request, uid: str) -> Response:
        version = _int(json_object(request).get("version"), "version")
        return Response(services.document(services.restore_version(self.org, uid, version,
                                                                    actor_from(request))))

    # Always JSON (a browser following the Export link would otherwise get the browsable API page).
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer])
    def export(self, request: Request, uid: str) -> Response:
        dash = services.get_dashboard(self.org, uid)
        resp = Response(services.export_dashboard(dash))
        resp["Content-Disposition"] = f'attachment; filename="dashboard-{dash.uid}.json"'
        return resp

    @action(detail=False, methods=["post"], url_path="import")
    def import_(self, request: Request) -> Response:
        dash, report = services.import_dashboard(self.org, json_object(request), actor_from(request))
        return Response({**services.document(dash), "import_report": report}, status=201)

    @action(detail=True, methods=["post"])
    def clone(self, request: Request, uid: str) -> Response:
        title = str(json_object(request).get("title") or "")
        dash = services.clone_dashboard(self.org, uid, actor_from(request), title)
        return Response(services.document(dash), status=201)

    @extend_schema(parameters=[OpenApiParameter("from", str), OpenApiParameter("to", str),
                               OpenApiParameter("step", str), OpenApiParameter("panel", int, many=True)])
    @action(detail=True, methods=["get"])
    def data(self, request: Request, uid: str) -> Response:
        dash = services.get_dashboard(self.org, uid)
        q = request.query_params
        return Response(services.panel_data(self.org, dash.spec, _panel_ids(request), _chosen_vars(request),
                                            q.get("from") or dash.spec["time"]["from"],
                                            q.get("to") or dash.spec["time"]["to"], q.get("step")))

    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        """Data for an unsaved panel: body {panel, variables?, vars?, from?, to?, step?}."""
        body = json_object(request)
        chosen: dict[str, Any] = body["vars"] if isinstance(body.get("vars"), dict) else {}
        variables: list[dict[str, Any]] = body["variables"] if isinstance(body.get("variables"), list) else []
        return Response(services.preview(self.org, body.get("panel"), chosen, variables,
                                         body.get("from", "now-1h"), body.get("to", "now"), body.get("step")))


class BuiltinListView(OrgAPIView):
    """The built-in platform dashboards (read-only; clone one to edit it)."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response({"results": [{"slug": slug, "title": doc["title"], "description": doc["description"],
                                      "tags": doc["tags"], "builtin": True} for slug, doc in builtin.all_builtins()]})


class BuiltinDetailView(OrgAPIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str) -> Response:
        return Response({**services.get_builtin(slug), "slug": slug, "builtin": True})


class BuiltinDataView(OrgAPIView):
    """Panel data of a built-in dashboard: the org's own series; staff get the whole platform unless they
    ask for `scope=org` (a non-staff user's `scope=platform` is ignored: they always get their org)."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str) -> Response:
        doc = services.get_builtin(slug)
        q = request.query_params
        cross_org = None
        if getattr(request.user, "is_staff", False) and q.get("scope", "platform") == "platform":
            cross_org = querying.cross_org_for(actor_from(request), f"built-in dashboard {slug}")
        return Response(services.panel_data(self.org, doc, _panel_ids(request), _chosen_vars(request),
                                            q.get("from") or doc["time"]["from"], q.get("to") or doc["time"]["to"],
                                            q.get("step"), cross_org))


class BuiltinCloneView(OrgAPIView):
    required_role: ClassVar[str] = "viewer"

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, slug: str) -> Response:
        title = str(json_object(request).get("title") or "")
        dash = services.clone_builtin(self.org, slug, actor_from(request), title)
        return Response(services.document(dash), status=201)


class ExploreQueryView(OrgAPIView):
    """Run a PromQL query for the org (range by default, `instant=1` for a table at `to`); recorded in the
    user's history. A parse error answers 400 with details.position."""

    @extend_schema(parameters=[OpenApiParameter("query", str), OpenApiParameter("from", str),
                               OpenApiParameter("to", str), OpenApiParameter("step", str),
                               OpenApiParameter("instant", bool)], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        q = request.query_params
        return Response(services.explore_query(self.org, request.user, q.get("query", ""), q.get("from", "now-1h"),
                                               q.get("to", "now"), q.get("step"),
                                               instant=q.get("instant") in ("1", "true")))


def _window(request: Request) -> tuple[float, float]:
    return interpolate.time_range(request.query_params.get("from") or "now-6h",
                                  request.query_params.get("to") or "now")


class ExploreLabelsView(OrgAPIView):
    """Label names (for autocompletion), optionally of series matching `match`."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        start, end = _window(request)
        names = querying.label_names(self.org, request.query_params.get("match") or None, start, end)
        own = org_label(self.org)[0]
        return Response({"results": sorted(n for n in names if n != own)})


class ExploreLabelValuesView(OrgAPIView):
    """Values of one label (`__name__` gives metric names), optionally of series matching `match`."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, name: str) -> Response:
        start, end = _window(request)
        values = querying.label_values(self.org, name, request.query_params.get("match") or None, start, end)
        prefix = request.query_params.get("prefix") or ""
        return Response({"results": sorted(v for v in values if v.startswith(prefix))[:1000]})


class ExploreHistoryView(OrgAPIView):
    """The requesting user's own Explore history in this org (newest first)."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response({"results": HistorySerializer(services.history(self.org, request.user), many=True).data})
