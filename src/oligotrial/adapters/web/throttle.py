"""Login throttling: failed logins counted per account and per client address in a sliding
window; over the limit, every login for that account or from that address is answered 429
with ``Retry-After`` until the oldest counted failure leaves the window.

Counting failures (not attempts) keeps a busy site's legitimate logins free; refusing even a
correct password while an account is throttled keeps a guesser from learning when it hits.
A successful login clears the account's failures (not the address's: one address guessing
many accounts stays counted). OWASP Authentication Cheat Sheet, "Login Throttling"; NIST SP
800-63B section 5.2.2 (rate limiting: at most 100 consecutive failed attempts per account).

The counts live in this process's memory: a server run as several processes (workers, hosts)
counts each process's share separately, so a guesser spread over N processes gets N times the
limit; put a shared limiter (the reverse proxy's, or a store such as Redis) in front of such a
deployment. A restart forgets the counts.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from oligotrial.errors import OligotrialError


class LoginThrottled(OligotrialError):
    """Too many failed logins for this account or from this address; retry after a while."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_s: int, field: str) -> None:
        super().__init__(message, code=self.code, field=field)
        self.retry_after_s = retry_after_s


class LoginThrottle:
    """Sliding-window failure counts by key (``account:<name>``, ``address:<ip>``)."""

    def __init__(self, *, per_account: int, per_address: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def check(self, username: str, address: str | None) -> None:
        """Raise :class:`LoginThrottled` when the account or the address is over its limit."""
        now = self.clock()
        with self._lock:
            for key, limit, what in ((f"account:{username.lower()}", self.per_account, "account"),
                                     (f"address:{address}", self.per_address, "address")):
                if what == "address" and address is None:
                    continue
                q = self._recent(key, now)
                if limit and len(q) >= limit:
                    wait = max(1, math.ceil(q[len(q) - limit] + self.window_s - now))
                    raise LoginThrottled(
                        f"{'username' if what == 'account' else 'client address'}: {len(q)} failed logins in the "
                        f"last {self.window_s:g} s; expected at most {limit - 1}: retry after {wait} s",
                        retry_after_s=wait, field="username" if what == "account" else "address")

    def failed(self, username: str, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            for key in (f"account:{username.lower()}", f"address:{address}" if address else None):
                if key:
                    self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"account:{username.lower()}", None)
