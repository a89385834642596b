"""The review screen inside Airflow: nights × tenants, reports, releases, re-runs, mapping changes."""
