"""Telegram and email notifications: what a trader must not miss, sent off the trading path.

The trading cycle calls the functions in ``notify``; they render a message, and after the
transaction commits enqueue one Celery delivery task per enabled channel (``tasks.deliver``).
"""
