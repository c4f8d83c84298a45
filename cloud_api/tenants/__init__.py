"""Tenants: the insured organisations that operate fleets of robots."""
