"""Models of logs_app. Export models live with their feature in logs_app/exports/; importing them here is
what registers them with the app (the log/trace store itself is not ORM-managed: logs_app/store/)."""

from logs_app.exports.models import Export, ExportFormat, ExportSchedule, ExportStatus
from logs_app.saved_searches.models import SavedSearch

__all__ = ["Export", "ExportFormat", "ExportSchedule", "ExportStatus", "SavedSearch"]
