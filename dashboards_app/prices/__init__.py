"""The staff-maintained model price table: its write service, REST API and staff page (pricing.py reads it)."""
