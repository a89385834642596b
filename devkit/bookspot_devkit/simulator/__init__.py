"""A seeded BookSpot simulator: realistic transaction data, a JSON Lines export and a fake BookSpot API."""

from .generator import Knobs, TenantGenerator, TenantProfile, iter_transactions, tenant_ids

__all__ = ["Knobs", "TenantGenerator", "TenantProfile", "iter_transactions", "tenant_ids"]
