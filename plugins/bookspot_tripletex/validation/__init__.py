"""Validation of a tenant-day before posting: Great Expectations suites and the day's report."""
