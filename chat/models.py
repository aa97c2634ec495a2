"""Who may command the bot from which chat, what was asked, and the confirmations waiting for a tap.

- ``TelegramLink``: a chat id allowed to command the bot, as one Django user (made in the admin, or by the user
  sending ``/link CODE`` with a ``LinkCode``). Every command then runs as that user, with that user's permissions.
- ``LinkCode``: a one-time code, valid ``LINK_CODE_MINUTES``; only its hash is stored, so the code is shown once.
- ``ChatCommand``: every command and its outcome, as ``Delivery`` is for every message sent.
- ``Confirmation``: a destructive command waiting for its "Confirm" button; claimed with one conditional UPDATE, so a
  tap delivered twice acts once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

LINK_CODE_MINUTES = 15
CONFIRM_SECONDS = 120
# Unambiguous on a phone keyboard and in any font: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


class TelegramLink(models.Model):
    chat_id = models.BigIntegerField(unique=True, help_text="The Telegram chat (a private chat's id is the person's "
                                                            "Telegram user id; the bot logs it when it refuses one).")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_links",
                             help_text="Commands from this chat run as this user, with their permissions.")
    chat_name = models.CharField(max_length=100, blank=True, default="", help_text="The chat's @username, if any.")
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "chat_telegram_links"
        ordering = ["-linked_at"]
        verbose_name = "Telegram chat link"

    def __str__(self):
        return f"chat {self.chat_id} \u2192 {self.user}"

    @classmethod
    def user_of(cls, chat_id: int):
        """The active user ``chat_id`` is linked to, or None (not linked, or the account is deactivated)."""
        link = cls.objects.select_related("user").filter(chat_id=chat_id).first()
        return link.user if link is not None and link.user.is_active else None


def normalized_code(code: str) -> str:
    return "".join(character for character in code.upper() if character.isalnum())


def _digest(code: str) -> str:
    return hashlib.sha256(normalized_code(code).encode()).hexdigest()


class LinkCode(models.Model):
    digest = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link_codes",
                             help_text="The chat that sends this code is linked to this user.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(editable=False)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)
    used_by_chat = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "chat_link_codes"
        ordering = ["-created_at"]
        verbose_name = "Telegram link code"

    def __str__(self):
        state = "used" if self.used_at else ("expired" if self.expires_at <= timezone.now() else "valid")
        return f"link code for {self.user} ({state})"

    def new_code(self, *, now: datetime | None = None) -> str:
        """Give this (unsaved) row a fresh code and its expiry; returns the code, which is not stored."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        self.digest = _digest(code)
        self.expires_at = (now or timezone.now()) + timedelta(minutes=LINK_CODE_MINUTES)
        return f"{code[:5]}-{code[5:]}"

    @classmethod
    def issue(cls, user) -> str:
        code = cls(user=user)
        shown = code.new_code()
        code.save()
        return shown

    @classmethod
    def redeem(cls, code: str, chat_id: int, *, now: datetime | None = None):
        """The user ``code`` links to, once: a code already used or expired gives None."""
        now = now or timezone.now()
        claimed = cls.objects.filter(digest=_digest(code), used_at__isnull=True, expires_at__gt=now).update(
            used_at=now, used_by_chat=chat_id)
        if not claimed:
            return None
        return cls.objects.select_related("user").get(digest=_digest(code)).user


class ChatCommand(models.Model):
    class Outcome(models.TextChoices):
        DONE = "done", "Done"
        ASKED = "asked", "Asked to confirm"
        CANCELLED = "cancelled", "Cancelled"
        REFUSED = "refused", "Refused"
        NOT_AUTHORIZED = "not authorized", "Not authorized"
        ERROR = "error", "Error"

    chat_id = models.BigIntegerField(db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", help_text="Empty when the chat was not linked.")
    text = models.CharField(max_length=300, help_text="The command as sent, or the button tapped.")
    outcome = models.CharField(max_length=20, choices=Outcome.choices, db_index=True)
    reply = models.TextField(blank=True, default="", help_text="What the bot answered (plain text, shortened).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "chat_commands"
        ordering = ["-created_at", "-id"]
        verbose_name = "chat command"

    def __str__(self):
        return f"{self.text} from {self.chat_id}: {self.outcome}"


def _new_token() -> str:
    return secrets.token_urlsafe(16)


class Confirmation(models.Model):
    token = models.CharField(max_length=32, unique=True, default=_new_token, editable=False)
    chat_id = models.BigIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    command = models.CharField(max_length=300, help_text="The command that runs when confirmed.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "chat_confirmations"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.command} for chat {self.chat_id}"

    @classmethod
    def ask(cls, chat_id: int, user, command: str) -> Confirmation:
        return cls.objects.create(chat_id=chat_id, user=user, command=command,
                                  expires_at=timezone.now() + timedelta(seconds=CONFIRM_SECONDS))

    @classmethod
    def claim(cls, token: str, chat_id: int) -> tuple[Confirmation | None, str]:
        """Take the confirmation ``token`` of ``chat_id``, at most once ever: one conditional UPDATE, so of two taps
        (or one tap delivered twice) exactly one gets it. Returns it, or None and why not."""
        now = timezone.now()
        found = cls.objects.filter(token=token, chat_id=chat_id)
        if found.filter(used_at__isnull=True, expires_at__gt=now).update(used_at=now):
            return found.select_related("user").get(), ""
        row = found.first()
        if row is None:
            return None, "This button is not known (any more)."
        if row.used_at is not None:
            return None, "Already answered."
        return None, f"Expired: a confirmation is valid for {CONFIRM_SECONDS // 60} minutes. Send the command again."
