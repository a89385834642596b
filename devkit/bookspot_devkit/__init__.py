"""Test doubles and demo wiring for the BookSpot → Tripletex pipeline: a Tripletex emulator, a BookSpot
simulator, Tripletex's OpenAPI contract checker and the demo set-up. Never imported by the product."""
