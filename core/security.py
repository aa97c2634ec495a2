"""Who may touch the exchange, how often, and how many wrong passwords a login takes.

- ``OrderEndpoint``: the mixin every order-changing API view carries. It refuses (403) a user without the order
  permission, then one whose live trading switch is off when the exchange is not paper, and throttles (429) order
  writes per user.
- ``check_order_notional``: an order above the user's own max order notional is refused (403).
- Permissions (Django's model permissions, granted through the groups viewer, trader and strategist):
  ``RequiresPermission`` and ``ModelPermissions`` for the API, ``permission_refusal`` for the pages, and
  ``activation_refusal`` / ``strategy_trading_refusal``: who may let a strategy trade, and whether the cycle may
  still trade it on its activator's authority.
- ``LoginLockout`` and the two login forms: ``LOGIN_FAILURE_LIMIT`` failures per username and address within
  ``LOGIN_LOCKOUT_MINUTES`` lock that pair until the window ends; the page says until when.

Counts live in the Django cache (Redis), so every web process shares them.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.core.exceptions import PermissionDenied as PagePermissionDenied
from django.core.exceptions import ValidationError
from django.shortcuts import render
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions, IsAuthenticated
from rest_framework.throttling import SimpleRateThrottle

from core.errors import Forbidden, TooMany
from core.models import OperatorSettings
from core.unavailable import REDIS_UNREACHABLE

logger = logging.getLogger(__name__)

HOW_TO_ENABLE = ("An administrator can switch it on in the admin, under Bot \u203a Operator settings "
                 "(\u201clive trading enabled\u201d).")


# Live trading switch and order size ----------------------------------------------------------------

def live_trading_refusal(user) -> str | None:
    """Why ``user`` may not change orders or positions now, or None when they may."""
    if settings.EXCHANGE_MODE == "paper":
        return None
    if OperatorSettings.of(user).live_trading_enabled:
        return None
    return (f"Live trading is switched off for {user.get_username()}: orders on the {settings.EXCHANGE_MODE} "
            f"exchange need it. {HOW_TO_ENABLE}")


def order_notional_limit(user) -> Decimal:
    """The largest order value ``user`` may send: their own limit, never above ``MAX_ORDER_NOTIONAL``."""
    return OperatorSettings.of(user).order_notional_limit


class LiveTradingAllowed(BasePermission):
    """Writes need the user's live trading switch unless the exchange is paper; reads are never refused here."""

    message = "Live trading is switched off for this user."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        refusal = live_trading_refusal(request.user)
        if refusal:
            self.message = refusal
            logger.warning("order request refused: live trading is off",
                           extra={"user": request.user.get_username(), "path": request.path})
            return False
        return True


class OrderRateThrottle(SimpleRateThrottle):
    """``ORDER_RATE_LIMIT`` order writes per user (reads are not counted)."""

    scope = "orders"

    def get_rate(self) -> str:
        return settings.ORDER_RATE_LIMIT  # read per request, so a test or a reload sees the current value

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


# Permissions ---------------------------------------------------------------------------------------

TRADE_ORDERS = "trades.trade_orders"
SET_LEVERAGE = "trades.set_leverage"


def permission_refusal(user, perm: str) -> str | None:
    """Why ``user`` may not do what ``perm`` ("app_label.codename") allows, naming the permission and the groups
    that grant it; None when they may. Pages call it; the API's permission classes below too."""
    if user.has_perm(perm):
        return None
    app_label, codename = perm.split(".", 1)
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    if permission is None:  # a typo in the code, not a missing grant: fail closed, loudly
        logger.error("unknown permission %s checked", perm)
        return f"You need the permission {perm!r}."
    groups = list(Group.objects.filter(permissions=permission).order_by("name").values_list("name", flat=True))
    granted_by = f" (group{'s' if len(groups) > 1 else ''} {' or '.join(map(repr, groups))})" if groups else ""
    return (f"You need the '{permission.name}' permission{granted_by}. An administrator can grant it in the admin, "
            f"under Authentication and Authorization.")


def refuse_page(request, reason: str, fragment: str | None = None, context: dict | None = None):
    """A page write refused: 403. For htmx, ``fragment`` (what a success would have swapped in) rendered with
    ``context``, which carries the reason, and marked ``X-Refusal`` so that static/js/live.js swaps it in (htmx
    swaps no 4xx by itself); otherwise the 403 page (templates/403.html) saying ``reason``."""
    logger.warning("page write refused", extra={"user": request.user.get_username(), "path": request.path})
    if fragment is not None and request.htmx:
        response = render(request, fragment, context, status=403)
        response["X-Refusal"] = "1"
        return response
    raise PagePermissionDenied(reason)


def _refused(permission: BasePermission, request, reason: str) -> bool:
    permission.message = reason
    logger.warning("request refused: permission missing",
                   extra={"user": request.user.get_username(), "path": request.path})
    return False


def RequiresPermission(*perms: str) -> type[BasePermission]:  # noqa: N802 - used like the class it returns
    """A DRF permission class: any signed-in user reads; writes (POST, PUT, PATCH, DELETE) need every one of
    ``perms``, and the 403 names the first one missing."""

    class Requires(BasePermission):
        def has_permission(self, request, view) -> bool:
            if not (request.user and request.user.is_authenticated):
                return False
            if request.method in SAFE_METHODS:
                return True
            for perm in perms:
                reason = permission_refusal(request.user, perm)
                if reason:
                    return _refused(self, request, reason)
            return True

    Requires.__name__ = Requires.__qualname__ = f"Requires({', '.join(perms)})"
    return Requires


class ModelPermissions(DjangoModelPermissions):
    """DRF's ``DjangoModelPermissions`` (reads for every signed-in user; POST needs add, PUT and PATCH change,
    DELETE delete on the view's model), with a 403 that names the missing permission."""

    def has_permission(self, request, view) -> bool:
        if super().has_permission(request, view):
            return True
        if request.user and request.user.is_authenticated:
            model = self._queryset(view).model
            for perm in self.get_required_permissions(request.method, model):
                reason = permission_refusal(request.user, perm)
                if reason:
                    return _refused(self, request, reason)
        return False


def activation_refusal(user) -> str | None:
    """Why ``user`` may not let a strategy trade (activate it, or change it while it is active), or None.

    An active strategy places orders on its activator's authority, so they need what placing an order by hand
    needs: the order permission, and off paper the live trading switch. Otherwise someone who may not trade could
    create a 50x strategy and have the bot trade it for them."""
    reason = permission_refusal(user, TRADE_ORDERS)
    if reason:
        return f"An active strategy places orders. {reason}"
    return live_trading_refusal(user)


def strategy_trading_refusal(strategy) -> str | None:
    """Why the cycle must not trade ``strategy`` now, or None: the person who activated it must still be allowed
    to. Read fresh from the database, so a permission or switch taken away stops the next cycle."""
    user = get_user_model().objects.filter(pk=strategy.activated_by_id).first() if strategy.activated_by_id else None
    if user is None:
        if settings.EXCHANGE_MODE == "paper":
            return None  # strategies activated before activators were recorded (the demo seed's) trade paper only
        return (f"nobody is recorded as having activated it (activated before activations were recorded, or its "
                f"activator was deleted): on the {settings.EXCHANGE_MODE} exchange a person allowed to trade must "
                f"activate it again")
    name = user.get_username()
    if not user.is_active:
        return f"{name}, who activated it, has a deactivated account; someone allowed to trade must activate it again"
    if not user.has_perm(TRADE_ORDERS):
        return (f"{name}, who activated it, no longer has the order permission; someone allowed to trade must "
                f"activate it again")
    if live_trading_refusal(user):
        return (f"{name}, who activated it, has live trading switched off; switch it back on (Bot \u203a Operator "
                f"settings), or have someone allowed to trade activate it again")
    return None


class _Asker:
    """What the order throttle reads of a request: who asks, and that it is a write."""

    method = "POST"
    path = ""

    def __init__(self, user):
        self.user = user


def order_guard(user, perm: str = TRADE_ORDERS) -> None:
    """The guards of every order write, whichever front end asks (``trades.commands`` calls it first): the
    permission, then the live trading switch, then the order rate limit, shared by the API, the pages and chat."""
    refusal = permission_refusal(user, perm) or live_trading_refusal(user)
    if refusal:
        logger.warning("order request refused: %s", refusal, extra={"user": user.get_username()})
        raise Forbidden(refusal)
    throttle = OrderRateThrottle()
    if not throttle.allow_request(_Asker(user), None):
        wait = max(1, math.ceil(throttle.wait() or 1))
        logger.warning("order requests throttled", extra={"user": user.get_username()})
        raise TooMany(f"Too many order requests: at most {settings.ORDER_RATE_LIMIT} per user (ORDER_RATE_LIMIT). "
                      f"Expected available in {wait} second{'' if wait == 1 else 's'}.", retry_after=wait)


class OrderEndpoint:
    """Mixin for API views that place, change, close or cancel orders (put it before the APIView base): the order
    permission and the live trading switch answer before a 404, as ``order_guard`` words them; the rate limit is
    counted once, by the command the view calls."""

    permission_classes = [IsAuthenticated, RequiresPermission(TRADE_ORDERS), LiveTradingAllowed]


class LeverageEndpoint(OrderEndpoint):
    """Setting leverage is its own permission; otherwise an order endpoint."""

    permission_classes = [IsAuthenticated, RequiresPermission(SET_LEVERAGE), LiveTradingAllowed]


# Login lockout -------------------------------------------------------------------------------------

class LoginLockout:
    """Failed sign-ins of one username from one address, counted in a fixed window from the first failure.

    Without Redis the lockout steps aside (a warning says so) rather than lock everyone out: a failed cache call
    counts as "not locked" and nothing is counted for the rest of that sign-in, whose password is checked as usual."""

    PREFIX = "login-failures"
    available = True  # False once a cache call failed: the rest of this sign-in goes without the cache

    def __init__(self, username: str, address: str):
        digest = hashlib.sha256(f"{username.strip().lower()}\n{address}".encode()).hexdigest()[:32]
        self.count_key = f"{self.PREFIX}:{digest}:count"
        self.until_key = f"{self.PREFIX}:{digest}:until"
        self.address = address

    @classmethod
    def for_request(cls, request, username: str | None) -> LoginLockout:
        address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
        return cls(username or "", address)

    @property
    def window_seconds(self) -> int:
        return settings.LOGIN_LOCKOUT_MINUTES * 60

    def locked_until(self) -> float | None:
        """When the lock ends (epoch seconds), or None if this pair may try."""
        found = self._cached(lambda: cache.get_many([self.count_key, self.until_key]), {})
        count, until = found.get(self.count_key), found.get(self.until_key)
        if count is not None and count >= settings.LOGIN_FAILURE_LIMIT and until is not None and until > time.time():
            return until
        return None

    def record_failure(self) -> int:
        """Count one failure; the window starts at the first. Returns the count so far (0: not counted)."""
        return self._cached(self._count_failure, 0)

    def _count_failure(self) -> int:
        cache.add(self.until_key, time.time() + self.window_seconds, self.window_seconds)
        cache.add(self.count_key, 0, self.window_seconds)
        try:
            return cache.incr(self.count_key)  # atomic in Redis: two processes cannot lose a count
        except ValueError:  # the window ended between add() and incr()
            cache.set(self.count_key, 1, self.window_seconds)
            return 1

    def reset(self) -> None:
        self._cached(lambda: cache.delete_many([self.count_key, self.until_key]), None)

    def _cached(self, call, default):
        if not self.available:
            return default
        try:
            return call()
        except REDIS_UNREACHABLE as error:
            self.available = False
            logger.warning("login lockout unavailable: %s; signing in without it", str(error).rstrip("."),
                           extra={"address": self.address})
            return default

    def message(self, until: float) -> str:
        minutes = max(1, math.ceil((until - time.time()) / 60))
        at = datetime.fromtimestamp(until, tz=UTC).strftime("%H:%M UTC")
        return (f"Too many failed sign-ins for this username from your address ({settings.LOGIN_FAILURE_LIMIT} "
                f"within {settings.LOGIN_LOCKOUT_MINUTES} minutes). Try again in {minutes} minute"
                f"{'s' if minutes != 1 else ''}, after {at}.")


class LockoutMixin:
    """For Django's authentication forms: refuse a locked username+address before checking the password."""

    locked_out = False  # the login template shows the lockout message instead of "didn't match"

    def clean(self):
        lockout = LoginLockout.for_request(self.request, self.data.get("username"))
        until = lockout.locked_until()
        if until is not None:
            self._refuse(lockout, until)
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if any(getattr(item, "code", None) == "invalid_login" for item in error.error_list):
                failures = lockout.record_failure()
                logger.warning("failed sign-in", extra={"failures": failures, "address": lockout.address})
                until = lockout.locked_until()
                if until is not None:
                    self._refuse(lockout, until)
            raise
        lockout.reset()
        return cleaned

    def _refuse(self, lockout: LoginLockout, until: float):
        self.locked_out = True
        logger.warning("sign-in refused: locked out", extra={"address": lockout.address})
        raise ValidationError(lockout.message(until), code="locked_out")


class LockoutAuthenticationForm(LockoutMixin, AuthenticationForm):
    """The login page's form."""


class LockoutAdminAuthenticationForm(LockoutMixin, AdminAuthenticationForm):
    """The admin login's form (it also refuses non-staff users, with the admin's own message)."""


def clear_rate_limits() -> int:
    """Forget every login failure and order throttle history (all users): for tests, and for an operator who
    locked themselves out (``manage.py shell -c "from core.security import clear_rate_limits as c; c()"``)."""
    # Django's cache API cannot list keys; the Redis client behind it can. Keys carry the cache's prefix.
    client = cache._cache.get_client(write=True)
    patterns = [cache.make_key(f"{LoginLockout.PREFIX}:*"), cache.make_key(f"throttle_{OrderRateThrottle.scope}_*")]
    keys = [key for pattern in patterns for key in client.scan_iter(match=pattern, count=500)]
    if keys:
        client.delete(*keys)
    return len(keys)


# API token auth --------------------------------------------------------------------------------------

class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, remembering each token's user for ``TOKEN_CACHE_SECONDS`` in this process.

    The lookup was an eighth of a web process's time under load (benchmarks/load_bench.py). A token deleted or a
    user deactivated stops working in this process at once (signals below) and in the others within
    ``TOKEN_CACHE_SECONDS``; a cached user is never used past that."""

    _cache: dict[str, tuple[float, object, object]] = {}
    _lock = threading.Lock()

    def authenticate_credentials(self, key):
        now = time.monotonic()
        with self._lock:
            found = self._cache.get(key) if settings.TOKEN_CACHE_SECONDS else None
        if found is not None and found[0] > now:
            return found[1], found[2]
        user, token = super().authenticate_credentials(key)  # raises AuthenticationFailed as DRF's does
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + settings.TOKEN_CACHE_SECONDS, user, token)
        return user, token

    @classmethod
    def forget(cls, **_kwargs) -> None:
        with cls._lock:
            cls._cache.clear()


def forget_cached_tokens(**_kwargs) -> None:
    CachedTokenAuthentication.forget()


# WebSocket token auth --------------------------------------------------------------------------------

class TokenAuthMiddleware:
    """Lets a script open ``/ws/`` with ``Authorization: Token <key>``, the API's token, instead of a session
    cookie. Goes inside ``AuthMiddlewareStack``: a session user, when there is one, stays the user. Browsers never
    send this header on their own, so it adds no cross-site risk; the Origin check still applies."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if scope["type"] == "websocket" and (user is None or not user.is_authenticated):
            key = _token_key(dict(scope.get("headers", [])).get(b"authorization", b""))
            if key:
                from channels.db import database_sync_to_async

                token_user = await database_sync_to_async(_token_user)(key)
                if token_user is not None:
                    scope = {**scope, "user": token_user}
        return await self.inner(scope, receive, send)


def _token_key(header: bytes) -> str | None:
    scheme, _, key = header.decode("latin-1").partition(" ")
    if scheme.lower() != "token":
        return None
    return key.strip() or None


def _token_user(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token is not None and token.user.is_active else None
