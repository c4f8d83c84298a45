"""The double-entry ledger: money in integer minor units, balanced entries, premium earning."""
