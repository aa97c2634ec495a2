"""The Telegram control bot: python-telegram-bot's ``Application``, long polling ``TELEGRAM_API_BASE_URL`` (no public
URL needed), handing each message and button tap to ``chat.conversation`` and sending back its reply.

The handlers' Django work runs in a thread (``sync_to_async``) with a database connection of its own, closed after
each update as a request's is. Updates are handled one at a time, in order. Telegram out of reach at start is waited
for (with backoff) rather than ending the process, and a token Telegram refuses leaves the bot idle with an error in
the log: either way the rest of the bot (``runbot``'s other parts) goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from chat import commands, conversation
from chat.replies import Reply, split_message
from core.logs import redact

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def build_application() -> Application:
    """The bot as the settings say: token, Bot API base URL, timeouts (the long poll's is added by the library)."""
    base = settings.TELEGRAM_API_BASE_URL
    application = (Application.builder().token(settings.TELEGRAM_BOT_TOKEN)
                   .base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
                   .connect_timeout(settings.TELEGRAM_TIMEOUT).read_timeout(settings.TELEGRAM_TIMEOUT)
                   .write_timeout(settings.TELEGRAM_TIMEOUT).get_updates_read_timeout(settings.TELEGRAM_TIMEOUT)
                   .concurrent_updates(False).build())
    application.add_handler(MessageHandler(filters.TEXT, on_text))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_error_handler(on_error)
    return application


async def serve(application: Application, stop: asyncio.Event) -> None:
    """Poll for updates and answer them until ``stop`` is set; then stop cleanly (the last updates confirmed)."""
    if not await _initialize(application, stop):
        return
    try:
        await _offer_commands(application)
        await application.start()
        await application.updater.start_polling(timeout=settings.TELEGRAM_POLL_TIMEOUT, bootstrap_retries=-1,
                                                allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY])
        logger.info("telegram control bot polling", extra={"bot": application.bot.username})
        await stop.wait()
        await application.updater.stop()
        await application.stop()
    finally:
        await application.shutdown()
    logger.info("telegram control bot stopped")


def run_until_signalled() -> None:
    """``manage.py telegram_bot``: serve until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(build_application(), stop)

    asyncio.run(main())


# Handlers -------------------------------------------------------------------------------------------

async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or not message.text:
        return
    name = f"@{chat.username}" if chat.username else (chat.title or "")
    reply = await in_django(conversation.on_text, chat.id, message.text, chat_name=name, sent_at=message.date,
                            private=chat.type == chat.PRIVATE)
    parts = split_message(reply.text)
    for index, part in enumerate(parts):  # a long answer (a table of hundreds of trades) in several messages
        await message.reply_text(part, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW, do_quote=False,
                                 reply_markup=_keyboard(reply) if index == len(parts) - 1 else None)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    reply = await in_django(conversation.on_button, query.message.chat.id, query.data or "")
    await query.answer(reply.toast or None)
    if reply.edit and reply.text:
        first, *rest = split_message(reply.text)
        await query.edit_message_text(first, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)
        for part in rest:
            await query.message.reply_text(part, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                                           do_quote=False)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    if isinstance(error, NetworkError):
        logger.warning("telegram unreachable: %s", redact(str(error)))
    else:
        logger.error("telegram update not answered: %s", redact(f"{type(error).__name__}: {error}"))


async def in_django(function, *args, **kwargs):
    """``function`` run in the thread Django's database work goes to, with a fresh connection closed afterwards."""

    @functools.wraps(function)
    def call():
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return await sync_to_async(call, thread_sensitive=True)()


def _keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in reply.buttons]])


# Start-up -------------------------------------------------------------------------------------------

async def _initialize(application: Application, stop: asyncio.Event) -> bool:
    """Reach Telegram (getMe), retrying with backoff until it answers or ``stop``; False when there is nothing to
    serve (stopped, or the token refused: the bot idles, saying why, until stopped)."""
    delay = 1
    while not stop.is_set():
        try:
            await application.initialize()
            return True
        except InvalidToken:
            logger.error("Telegram refused TELEGRAM_BOT_TOKEN: the control bot does not run; set the token BotFather "
                         "gave and restart")
            await stop.wait()
            return False
        except TelegramError as error:  # NetworkError, TimedOut, a 5xx: Telegram may come back
            logger.warning("telegram not reachable, trying again in %s s: %s", delay, redact(str(error)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)
    return False


async def _offer_commands(application: Application) -> None:
    """The command menu a phone shows when "/" is typed (a nicety: failing is logged, not fatal)."""
    menu = [BotCommand(command.name, command.summary[:256]) for command in commands.COMMANDS.values()]
    try:
        await application.bot.set_my_commands(menu)
    except TelegramError as error:
        logger.warning("telegram command menu not set: %s", redact(str(error)))
