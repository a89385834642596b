"""BookSpot → Tripletex: nightly posting of BookSpot sales as Tripletex vouchers."""

__version__ = "0.1.0"
