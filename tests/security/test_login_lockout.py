"""Sign-in: LOGIN_FAILURE_LIMIT failures per username and address lock that pair, with a clear message, in every
process (the counts are in Redis), on the login page and the admin's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.test import Client

from core.security import LoginLockout
from tests.helpers import REPO

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # the ``user`` fixture's
LOCKED = "Too many failed sign-ins for this username from your address (5 within 15 minutes). Try again in "


def sign_in(password: str, *, username: str = "trader", address: str = "203.0.113.7", path: str = "/accounts/login/"):
    client = Client(REMOTE_ADDR=address)
    response = client.post(path, {"username": username, "password": password})
    return response, client


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_fifth_failure_locks_the_pair_and_says_until_when(user):
    answers = [sign_in("wrong")[0].content.decode() for _ in range(5)]

    assert all("didn't match" in page for page in answers[:4])
    assert LOCKED + "15 minutes, after " in answers[4]
    assert " UTC." in answers[4]


def test_a_locked_pair_is_refused_even_with_the_right_password(user):
    for _ in range(5):
        sign_in("wrong")

    response, client = sign_in(PASSWORD)

    assert LOCKED in response.content.decode() and not signed_in(client)


def test_the_lock_holds_one_username_from_one_address_only(user, django_user_model):
    django_user_model.objects.create_user("colleague", password=PASSWORD)
    for _ in range(5):
        sign_in("wrong")

    assert signed_in(sign_in(PASSWORD, address="198.51.100.20")[1])  # the owner, from elsewhere
    assert signed_in(sign_in(PASSWORD, username="colleague")[1])  # another account, same address


def test_a_successful_sign_in_clears_the_failures(user):
    for _ in range(4):
        sign_in("wrong")
    assert signed_in(sign_in(PASSWORD)[1])

    for _ in range(4):
        sign_in("wrong")
    assert signed_in(sign_in(PASSWORD)[1])  # 8 failures in all, never 5 in a row


def test_the_admin_login_shares_the_count(user):
    for _ in range(3):
        sign_in("wrong")
    for _ in range(2):
        sign_in("wrong", path="/admin/login/")

    response, client = sign_in(PASSWORD, path="/admin/login/")

    assert LOCKED in response.content.decode() and not signed_in(client)


def test_the_lock_ends_with_its_window(user):
    lockout = LoginLockout("trader", "203.0.113.7")
    for _ in range(5):
        sign_in("wrong")
    assert lockout.locked_until() is not None

    from django.core.cache import cache

    cache.set(lockout.until_key, time.time() - 1)  # as if the 15 minutes had passed
    assert lockout.locked_until() is None


def test_another_process_sees_the_lock(user):
    """Web processes share the counts through Redis: a second Python process is refused too."""
    for _ in range(5):
        sign_in("wrong")
    probe = ("import django, json; django.setup(); from core.security import LoginLockout; "
             "print(json.dumps(LoginLockout('TRADER', '203.0.113.7').locked_until()))")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tradebot.settings")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    until = json.loads(result.stdout.strip().splitlines()[-1])
    assert until is not None and until > time.time() + settings.LOGIN_LOCKOUT_MINUTES * 60 - 120
