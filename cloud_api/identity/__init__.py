"""Identity: passwords, access tokens, opaque secrets and the backoff on failed attempts.

Pure and database-free: the stores (users, refresh tokens, API keys, failure counters) and the
endpoints build on these modules.
"""
