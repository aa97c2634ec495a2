"""Control from a phone: the Telegram control bot (``bot.py``, ``manage.py telegram_bot``), the chats linked to users
(``models.py``) and one handler per chat command over the command layer (``commands.py``)."""
