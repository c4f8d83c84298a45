"""Robots: their standing (active, suspended, revoked) and their credentials."""
