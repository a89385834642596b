"""Tenant files: the reviewable source of a company's settings and mapping versions."""
