"""The night's steps over a set of tenants, one module each: extract → journal → validate → load →
reconcile. Each takes the tenant-days the step before left in staging (`staging/night_steps.py`), so a
step runs, and is retried, on its own; `pipeline.run_night` runs them one after the other in one process,
the nightly DAG as one task each per shard."""
