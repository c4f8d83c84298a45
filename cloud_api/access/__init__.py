"""Access: who may do what to which tenant's data (roles, actions, the permission table)."""
