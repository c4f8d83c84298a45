"""Policies: quotes from the risk engine's premiums, and the policy lifecycle over versions."""
