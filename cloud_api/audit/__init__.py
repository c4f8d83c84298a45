"""The audit trail: who did what to which object, when, from which request, and why."""
