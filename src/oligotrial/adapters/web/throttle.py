"""Login throttling without lockouts: failed logins counted per (account, client address) pair
and per client address, in a sliding window, with exponential backoff.

A key (the pair ``account:<name>@<address>``, or ``address:<ip>``) that reaches its limit of
failures within the window is refused (429 with ``Retry-After``) for a delay that doubles with
each further failure: ``backoff_base_s * 2**(n - limit)``, at most ``backoff_max_s`` (OWASP
Authentication Cheat Sheet, "Login Throttling": "exponential back-off ... rather than a hard
lockout"; NIST SP 800-63B section 5.2.2, rate limiting). While refused, even a correct password
is answered 429, so a guesser learns nothing from it.

Counting the account *with* the address means that failures typed from elsewhere never stop the
account's owner from signing in from their own address: nobody can lock a clinician out by
typing their user name five times (the probe of issue 26 did exactly that). One address
guessing across many accounts is still counted by its address key. A successful sign-in clears
its pair (not the address).

Emergency unblinding re-checks the password of a user who is already signed in. That path is
never refused by a count (:meth:`LoginThrottle.reauth_failed` only counts): a correct password
always unblinds, a wrong one is 403 and audited by the service, and the failures count against
the same pair, so that the pair's sign-ins back off. What stops a stolen session from guessing
the password there is not a lockout but the session's end: the adapters end the page session
or bearer token that reaches the limit of wrong re-authentications (its thief must then sign in,
which backs off).

The counts live in this process's memory and are measured with ``time.monotonic()`` (durations,
not dates): a server run as several processes counts each process's share separately, so a
guesser spread over N processes gets N times the limit; put a shared limiter (the reverse
proxy's, or a store such as Redis) in front of such a deployment. A restart forgets the counts.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from oligotrial.errors import OligotrialError


class LoginThrottled(OligotrialError):
    """Too many failed logins for this account from this address, or from this address; retry later."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_s: int, field: str) -> None:
        super().__init__(message, code=self.code, field=field)
        self.retry_after_s = retry_after_s


def _pair(username: str, address: str | None) -> str:
    return f"account:{username.strip().lower()}@{address or '-'}"


class LoginThrottle:
    """Sliding-window failure counts with exponential backoff, by (account, address) pair and by
    address. ``per_account`` is the limit of a pair (an account's failures from one address)."""

    def __init__(
        self,
        *,
        per_account: int,
        per_address: int,
        window_s: float,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window_s = window_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
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

    def delay_s(self, failures: int, limit: int) -> float:
        """How long a key with ``failures`` recent failures waits after the last one: nothing
        below ``limit``; from it, ``backoff_base_s`` doubled per further failure, capped."""
        if not limit or failures < limit:
            return 0.0
        return min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (failures - limit))

    def _wait(self, key: str, limit: int, now: float) -> tuple[int, float]:
        q = self._recent(key, now)
        if not q:
            return 0, 0.0
        until = q[-1] + self.delay_s(len(q), limit)
        # a key whose oldest counted failure leaves the window is free again when that happens,
        # whatever its backoff (the window bounds how long a burst is held against anyone)
        if limit and len(q) >= limit:
            until = min(until, q[len(q) - limit] + self.window_s)
        return len(q), max(0.0, until - now)

    def check(self, username: str, address: str | None) -> None:
        """Raise :class:`LoginThrottled` when this account from this address, or this address,
        is backing off. For sign-in (page or API token); never on the unblinding path."""
        now = self.clock()
        with self._lock:
            keys = [(_pair(username, address), self.per_account, "username")]
            if address is not None:
                keys.append((f"address:{address}", self.per_address, "address"))
            for key, limit, field in keys:
                n, wait = self._wait(key, limit, now)
                if wait > 0:
                    what = "this account from this address" if field == "username" else "this client address"
                    secs = max(1, math.ceil(wait))
                    raise LoginThrottled(
                        f"{field}: {n} failed logins for {what} in the last {self.window_s:g} s "
                        f"(at most {limit - 1} before backing off): retry after {secs} s",
                        retry_after_s=secs,
                        field="username" if field == "username" else "address",
                    )

    def failed(self, username: str, address: str | None) -> None:
        """A failed sign-in: counts against the pair and the address."""
        now = self.clock()
        with self._lock:
            self._failures.setdefault(_pair(username, address), deque()).append(now)
            if address:
                self._failures.setdefault(f"address:{address}", deque()).append(now)

    def reauth_failed(self, username: str, address: str | None) -> int:
        """A wrong password on the emergency-unblinding path: counted against the pair (its
        sign-ins back off), never refusing anything itself. Returns the pair's recent count, so
        that the adapter can end the session or token that reached :attr:`per_account`."""
        now = self.clock()
        with self._lock:
            key = _pair(username, address)
            self._failures.setdefault(key, deque()).append(now)
            return len(self._recent(key, now))

    def succeeded(self, username: str, address: str | None = None) -> None:
        """A successful sign-in clears its pair (not its address's count)."""
        with self._lock:
            self._failures.pop(_pair(username, address), None)
