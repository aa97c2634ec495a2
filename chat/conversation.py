"""One chat update in, one reply out: who the chat is, the confirmation step, the wording of refusals and failures,
and the audit row (``ChatCommand``) of every command and button, whatever came of it.

Plain synchronous Django code, testable without the network; ``chat.bot`` calls it from python-telegram-bot's event
loop. A chat that is not linked to an active user gets "not authorized", a warning in the log, and nothing else:
only ``/link CODE`` works there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone

from chat import commands
from chat.models import CONFIRM_SECONDS, ChatCommand, Confirmation, LinkCode, TelegramLink
from chat.replies import Reply, esc
from core.errors import Refused
from core.logs import redact
from core.unavailable import REDIS_UNREACHABLE
from market.errors import ExchangeError

logger = logging.getLogger(__name__)

Outcome = ChatCommand.Outcome
TEXT_LIMIT = 300
STALE_AFTER = timedelta(minutes=5)  # a command sent while the bot was down is not run late
CONFIRM, CANCEL = "ok", "no"


def not_authorized(chat_id: int) -> str:
    return (f"Not authorized: this chat ({chat_id}) is not linked to a tradebot user. An administrator can link it "
            f"in the admin (Chat control \u203a Telegram chat links), or give you a one-time code "
            f"(manage.py telegram_link_code --user NAME) to send here as /link CODE.")


def on_text(chat_id: int, text: str, *, chat_name: str = "", sent_at: datetime | None = None,
            private: bool = True) -> Reply:
    """Answer a message ``text`` from ``chat_id`` (``private``: a one-to-one chat, not a group)."""
    text = " ".join(text.split())[:TEXT_LIMIT]
    if text.lower().split("@")[0].split(" ")[0] == "/link":
        return _audited(chat_id, None, "/link ***", lambda: _link(chat_id, text, chat_name, private))
    user = TelegramLink.user_of(chat_id)
    if user is None:
        return _refuse_stranger(chat_id, text)
    if sent_at is not None and timezone.now() - sent_at > STALE_AFTER:
        return _audited(chat_id, user, text, lambda: Reply(
            f"Ignored {esc(text)}: it was sent at {sent_at:%H:%M} UTC, while the bot was not running. Send it again "
            f"if you still mean it.", outcome=Outcome.REFUSED))
    return _audited(chat_id, user, text, lambda: _command(chat_id, user, text))


def on_button(chat_id: int, data: str) -> Reply:
    verb, _, token = data.partition(":")
    user = TelegramLink.user_of(chat_id)
    if user is None:
        _refuse_stranger(chat_id, f"[button {verb}]")
        return Reply("", outcome=Outcome.NOT_AUTHORIZED, toast="Not authorized.", edit=False)
    confirmation, why = Confirmation.claim(token, chat_id)
    if confirmation is None:
        return _audited(chat_id, user, f"[button {verb}]",
                        lambda: Reply("", outcome=Outcome.REFUSED, toast=why, edit=False))
    label = f"{'confirm' if verb == CONFIRM else 'cancel'} {confirmation.command}"
    if confirmation.user_id != user.pk:  # the chat was linked to someone else since the question
        return _audited(chat_id, user, label, lambda: Reply(
            "Not run: this was asked by another user of this chat.", outcome=Outcome.REFUSED, toast="Not run."))
    if verb != CONFIRM:
        return _audited(chat_id, user, label, lambda: Reply(f"Cancelled: {esc(confirmation.command)}",
                                                            outcome=Outcome.CANCELLED, toast="Cancelled."))
    return _audited(chat_id, user, label, lambda: _confirmed(user, confirmation.command))


def _command(chat_id: int, user, text: str) -> Reply:
    name, args = commands.parse(text)
    command = commands.find(name)
    question = command.ask(user, args) if command.ask else None
    if question is None:
        return command.run(user, args)
    token = Confirmation.ask(chat_id, user, text).token
    return Reply(f"{question}\n<i>Valid for {CONFIRM_SECONDS // 60} minutes.</i>", outcome=Outcome.ASKED,
                 buttons=(("Confirm", f"{CONFIRM}:{token}"), ("Cancel", f"{CANCEL}:{token}")))


def _confirmed(user, text: str) -> Reply:
    name, args = commands.parse(text)
    reply = commands.find(name).run(user, args)
    return Reply(reply.text, outcome=reply.outcome, toast="Done." if reply.outcome == Outcome.DONE else "See why.")


def _link(chat_id: int, text: str, chat_name: str, private: bool) -> Reply:
    if not private:  # in a group, every member would command the bot as the person who linked it
        raise _LinkRefused("Link a private chat with the bot, not a group: here every member would act as you.")
    words = text.split()
    if len(words) != 2:
        raise _LinkRefused("Usage: /link CODE, with the code manage.py telegram_link_code printed.")
    user = LinkCode.redeem(words[1], chat_id)
    if user is None or not user.is_active:
        raise _LinkRefused("That code is not valid: wrong, already used or expired. Ask for a new one.")
    TelegramLink.objects.update_or_create(chat_id=chat_id, defaults={
        "user": user, "chat_name": chat_name[:100], "linked_at": timezone.now()})
    logger.info("telegram chat linked", extra={"chat_id": chat_id, "user": user.get_username()})
    return Reply(f"Linked: commands from this chat now run as {esc(user.get_username())}, with that user's "
                 f"permissions. Send /help for the commands.")


class _LinkRefused(Refused):
    status = 400


def _refuse_stranger(chat_id: int, text: str) -> Reply:
    logger.warning("chat command refused: chat not linked", extra={"chat_id": chat_id, "command": text[:60]})
    reply = Reply(esc(not_authorized(chat_id)), outcome=Outcome.NOT_AUTHORIZED)
    _audit(chat_id, None, text, reply)
    return reply


def _audited(chat_id: int, user, text: str, call: Callable[[], Reply]) -> Reply:
    reply = _answer(call)
    _audit(chat_id, user, text, reply)
    log = logger.info if reply.outcome in (Outcome.DONE, Outcome.ASKED, Outcome.CANCELLED) else logger.warning
    log("chat command %s", reply.outcome, extra={"chat_id": chat_id, "command": text[:60],
                                                 "user": user.get_username() if user else ""})
    return reply


def _answer(call: Callable[[], Reply]) -> Reply:
    """The handler's reply, or its refusal or failure worded for the chat (nothing raises past here)."""
    try:
        return call()
    except Refused as refusal:
        return Reply(f"\u26d4 {esc(refusal.message)}", outcome=Outcome.REFUSED, toast="Refused.")
    except ExchangeError as error:
        logger.warning("chat command: exchange error: %s", error)
        return Reply(f"The exchange answered with an error: {esc(redact(str(error)))}. /status shows where things "
                     f"stand.", outcome=Outcome.ERROR, toast="Exchange error.")
    except REDIS_UNREACHABLE as error:
        logger.warning("chat command: Redis unreachable: %s", error)
        return Reply("Redis (the cache that counts the order rate limit) is not reachable, so nothing was done. "
                     "Try again when it is back.", outcome=Outcome.ERROR, toast="Try again later.")
    except Exception:
        logger.exception("chat command failed")
        return Reply("Something went wrong and the command may not have run; the bot's log has the details. "
                     "/status shows where things stand.", outcome=Outcome.ERROR, toast="Failed.")


def _audit(chat_id: int, user, text: str, reply: Reply) -> None:
    try:
        ChatCommand.objects.create(chat_id=chat_id, user=user, text=text[:TEXT_LIMIT], outcome=reply.outcome,
                                   reply=reply.summary)
    except Exception:  # the database is down: the person still gets their answer; the log keeps the trace
        logger.exception("chat command not audited", extra={"chat_id": chat_id, "command": text[:60]})
