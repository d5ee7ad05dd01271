"""
Read replica routing, switched on by DATABASE_REPLICA_URL: reads go to the replica except where a
stale read would be wrong. The rules and why: docs/database.md, "What reads where".
"""

import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest

from common.context import authenticated_user, authenticated_user_scope

DEFAULT = "default"
REPLICA = "replica"

logger = logging.getLogger(__name__)

# Auth state is read from the primary by every request: see the module docstring.
PRIMARY_ONLY_MODELS = frozenset({"knox.authtoken", "sessions.session"})

PIN_COOKIE = "replica_pin"
_PIN_SALT = "ops.replica-pin"


def _now() -> float:
    # One clock for every pin, so that tests can move it.
    return time.time()


@dataclass
class ReadState:
    """Where this request's (or this block's) reads go. `primary` only ever turns on."""

    request: HttpRequest | None = None
    primary: bool = False
    wrote: bool = False
    user_checked: bool = False
    replica_read: bool = False


_state: ContextVar[ReadState | None] = ContextVar("replica_read_state", default=None)


@contextmanager
def request_reads(request: HttpRequest, *, primary: bool):
    """The state of one request, for ops.middleware.ReplicaPinMiddleware."""
    state = ReadState(request=request, primary=primary)
    token = _state.set(state)
    try:
        with authenticated_user_scope():
            yield state
    finally:
        _state.reset(token)


@contextmanager
def replica_reads():
    """
    Lets code outside a request read from the replica, e.g. a report task that can live with rows a few
    seconds old. A write inside the block sends the block's later reads to the primary. Inside a request
    it changes nothing: the request's own rules already apply.
    """
    if _state.get() is not None:
        yield
        return
    token = _state.set(ReadState())
    try:
        yield
    finally:
        _state.reset(token)


# --- a replica that does not answer ---------------------------------------------------------------

# Per process: each worker finds out for itself, at the cost of one failed request each.
_replica_rest_until = 0.0


def replica_rest() -> None:
    """
    Sends this process's reads to the primary for REPLICA_RETRY_SECONDS, after a request that read the
    replica failed with the database unavailable (ops.middleware). The primary holds every row the
    replica does, so the site keeps answering instead of failing every read until the replica is back;
    the first read after the rest tries the replica again.
    """
    global _replica_rest_until
    _replica_rest_until = _now() + settings.REPLICA_RETRY_SECONDS
    logger.warning(
        "Read replica unavailable: reads go to the primary for %ss", settings.REPLICA_RETRY_SECONDS
    )


def replica_resting() -> bool:
    return _now() < _replica_rest_until


# --- pins that outlive a request -----------------------------------------------------------------


def _user_pin_key(user_id) -> str:
    return f"replica-pin:user:{user_id}"


def pin_until() -> float:
    return _now() + settings.REPLICA_PIN_SECONDS


def user_pin_set(user_id, until: float) -> None:
    # The cache entry outlives the pin by a second; the value decides, so a cache that keeps it a
    # little longer changes nothing.
    cache.set(_user_pin_key(user_id), until, timeout=settings.REPLICA_PIN_SECONDS + 1)


def user_pinned(user_id) -> bool:
    until = cache.get(_user_pin_key(user_id))
    return until is not None and until > _now()


def pin_cookie_value(until: float) -> str:
    # Signed so that a client cannot pin itself (or a script every request) to the primary at will:
    # the expiry it carries is the server's.
    return signing.Signer(salt=_PIN_SALT).sign(f"{until:.3f}")


def pin_cookie_valid(request: HttpRequest) -> bool:
    value = request.COOKIES.get(PIN_COOKIE)
    if not value:
        return False
    try:
        until = float(signing.Signer(salt=_PIN_SALT).unsign(value))
    except (signing.BadSignature, ValueError):
        return False
    return until > _now()


# --- the router -----------------------------------------------------------------------------------


def _in_transaction() -> bool:
    # Reads inside a transaction see its writes only on the primary. (A TestCase wraps every test in a
    # transaction: tests of the routing use transactional tests, as production has no such wrapper.)
    return connections[DEFAULT].in_atomic_block


def _primary_for(state: ReadState | None) -> bool:
    # No state: no request (tasks, commands, a public page warmed into the cache). A request that fills
    # the public cache is pinned to the primary by ReplicaPinMiddleware.
    if state is None or state.primary or _in_transaction():
        return True
    if not state.user_checked and state.request is not None:
        # API clients sending a token keep no cookie: their pin is found by user, once the user is
        # known (DRF authenticates inside the view, after every middleware has run).
        user = authenticated_user()
        if user is not None:
            state.user_checked = True
            if user.is_authenticated and user_pinned(user.pk):
                state.primary = True
    return state.primary


class ReplicaRouter:
    """Installed with the replica only: DATABASE_ROUTERS = ["ops.routers.ReplicaRouter"]."""

    def db_for_read(self, model, **hints):
        if model._meta.label_lower in PRIMARY_ONLY_MODELS:
            return DEFAULT
        instance = hints.get("instance")
        if instance is not None and instance._state.db == DEFAULT:
            return DEFAULT
        state = _state.get()
        # Resting first: while it rests every read goes to the primary, and _primary_for may read the cache.
        if replica_resting() or _primary_for(state):
            return DEFAULT
        if state is not None:
            state.replica_read = True
        return REPLICA

    def db_for_write(self, model, **hints):
        state = _state.get()
        if state is not None:
            state.primary = state.wrote = True
        return DEFAULT

    def allow_relation(self, obj1, obj2, **hints):
        # Both hold the same rows: a row read from the replica may be linked to one on the primary.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT, REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # A real replica gets its schema by replication; migrating it would fail (it is read-only).
        return db == DEFAULT
