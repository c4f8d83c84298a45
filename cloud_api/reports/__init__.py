"""Reports for the insurer: premium, losses and reserves, from the ledger and the claims."""
