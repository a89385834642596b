"""The BookSpot transaction feed: wire format, invariants and sources."""
