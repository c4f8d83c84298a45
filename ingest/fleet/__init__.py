"""The fleet register: tenants and their robots."""
