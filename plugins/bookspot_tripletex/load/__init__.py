"""Loading vouchers into Tripletex exactly once per tenant, day and version."""
