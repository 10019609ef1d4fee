"""Sessions kept in PostgreSQL (the record) and read through Redis.

Every sidebar call (the guide's rank, feed and task polls) reads the session: Django's ``cached_db`` engine
serves that from Redis instead of a database query. Two differences from ``cached_db``:

- Redis is a cache, not the record: when it cannot be reached a session is read from (and written to)
  PostgreSQL alone, so a Redis outage signs nobody out and breaks no page that does not need Redis.
- Signing out deletes the cached copy before the record (below).
- The cache alias ``sessions`` has plain keys (no tenant schema in them): a session read while a request
  runs in a brand's schema and one written back in the mall's schema are the same entry, so signing out
  can never leave a second, stale copy behind.
"""

from __future__ import annotations

import logging

from django.contrib.sessions.backends import cached_db

logger = logging.getLogger(__name__)


class SessionStore(cached_db.SessionStore):
    def load(self):
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # Redis down, or a key the cache refuses: read the record
            data = None
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        try:
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date))
        except Exception as error:
            logger.warning("sessions.cache_unavailable", extra={"error": type(error).__name__})
        return data

    def exists(self, session_key):
        # The record decides (a key must never be handed out twice), and the cache may be down.
        return self.model.objects.filter(session_key=session_key).exists()

    def delete(self, session_key=None):
        # The cached copy first: if Redis cannot be reached the sign-out fails loudly and nothing changed, rather
        # than removing the record and leaving a copy that comes back with Redis and keeps the session alive.
        key = session_key if session_key is not None else self.session_key
        if key is None:
            return
        self._cache.delete(self.cache_key_prefix + key)
        super(cached_db.SessionStore, self).delete(key)
