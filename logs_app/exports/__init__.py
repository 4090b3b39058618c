"""Log exports: on-demand and scheduled, streamed to CSV/NDJSON (optionally gzip) at constant memory."""
