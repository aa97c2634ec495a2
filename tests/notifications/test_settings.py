"""The per-channel event lists are checked at start-up like every other setting."""

import os
import subprocess
import sys

from tests.helpers import REPO


def test_an_unknown_event_in_a_channel_list_stops_start_up_with_one_line():
    env = dict(os.environ, EMAIL_EVENTS="daily_summary,trade_open")
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Configuration error: EMAIL_EVENTS: unknown event 'trade_open'; known: daily_summary, errors, reconciliation, "
        "strategy_paused, trade_closed, trade_opened")
