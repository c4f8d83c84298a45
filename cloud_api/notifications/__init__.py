"""Notifications: what a tenant is told (webhooks signed with HMAC-SHA256, email), by an outbox."""
