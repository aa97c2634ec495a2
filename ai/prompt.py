"""The question put to the model and the checks on its answer.

The prompt is a versioned template in ``ai/prompts/`` (``trade_decision_<version>.txt``; ``$names``
are filled by ``string.Template``). Change the wording in a new version file and bump
``PROMPT_VERSION``: every ``AICall`` row records which version produced it.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from string import Template

import pandas as pd

from market.intervals import INTERVAL_LABELS

PROMPT_VERSION = "v1"
PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
ACTIONS = ("LONG", "SHORT", "HOLD")
RISK_LEVELS = ("LOW", "MEDIUM", "HIGH")
FIELDS = ("action", "confidence", "reasoning", "risk_level")
MAX_REASONING = 2000

# Structured output. Ranges are checked here, not in the schema: numeric bounds are not part of the
# subset every OpenAI-compatible server enforces, and an answer outside them must be refused anyway.
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "trade_decision",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": list(ACTIONS)},
                "confidence": {"type": "integer", "description": "0 to 100"},
                "reasoning": {"type": "string"},
                "risk_level": {"type": "string", "enum": list(RISK_LEVELS)},
            },
            "required": list(FIELDS),
            "additionalProperties": False,
        },
    },
}


class MalformedAnswer(ValueError):
    """The model answered, but not with a decision we can use; the message says what was wrong."""


@cache
def load_template(version: str) -> tuple[Template, Template]:
    """(system, user) templates of a prompt version."""
    path = PROMPTS_DIR / f"trade_decision_{version}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"no prompt template for version {version!r} ({path.name})")
    _, _, rest = path.read_text(encoding="utf-8").partition("### system\n")
    system, _, user = rest.partition("### user\n")
    if not system.strip() or not user.strip():
        raise ValueError(f"{path.name} needs a '### system' and a '### user' section")
    return Template(system.strip()), Template(user.strip())


def render_messages(*, version: str, strategy_type: str, symbol: str, timeframe: str, candle_time: datetime,
                    price: Decimal, indicators: dict, recent_candles: pd.DataFrame) -> list[dict]:
    system, user = load_template(version)
    values = {
        "strategy_type": strategy_type.replace("_", " "),
        "timeframe": INTERVAL_LABELS.get(timeframe, timeframe),
        "symbol": symbol,
        "candle_time": f"{candle_time:%Y-%m-%d %H:%M}",
        "price": f"{price}",
        "indicators": "\n".join(f"- {name}: {_number(value)}" for name, value in indicators.items()),
        "candle_count": str(len(recent_candles)),
        "candles": "\n".join(
            f"{start:%Y-%m-%d %H:%M}, {_number(row.open)}, {_number(row.high)}, {_number(row.low)}, "
            f"{_number(row.close)}, {_number(row.volume)}"
            for start, row in zip(recent_candles.index, recent_candles.itertuples(index=False), strict=True)),
    }
    return [{"role": "system", "content": system.substitute(values)},
            {"role": "user", "content": user.substitute(values)}]


def parse_decision(content: str | None, *, finish_reason: str | None = None, refusal: str | None = None) -> dict:
    """The four fields of a valid answer, normalised; MalformedAnswer otherwise."""
    if refusal:
        raise MalformedAnswer(f"the model refused: {refusal[:200]}")
    if finish_reason == "length":
        raise MalformedAnswer("the answer was cut off (finish_reason=length)")
    if not content or not content.strip():
        raise MalformedAnswer("the answer was empty")
    try:
        answer = json.loads(content)
    except json.JSONDecodeError:
        raise MalformedAnswer(f"the answer is not JSON: {content.strip()[:80]!r}") from None
    if not isinstance(answer, dict):
        raise MalformedAnswer("the answer is not a JSON object")
    missing = [name for name in FIELDS if name not in answer]
    if missing:
        raise MalformedAnswer(f"the answer lacks {', '.join(missing)}")
    action = answer["action"].strip().upper() if isinstance(answer["action"], str) else answer["action"]
    if action not in ACTIONS:
        raise MalformedAnswer(f"unknown action {answer['action']!r}; expected LONG, SHORT or HOLD")
    confidence = answer["confidence"]
    if isinstance(confidence, float) and confidence.is_integer():
        confidence = int(confidence)
    if isinstance(confidence, bool) or not isinstance(confidence, int):
        raise MalformedAnswer(f"confidence {confidence!r} is not a whole number")
    if not 0 <= confidence <= 100:
        raise MalformedAnswer(f"confidence {confidence} is outside 0-100")
    risk = answer["risk_level"].strip().upper() if isinstance(answer["risk_level"], str) else answer["risk_level"]
    if risk not in RISK_LEVELS:
        raise MalformedAnswer(f"unknown risk_level {answer['risk_level']!r}; expected LOW, MEDIUM or HIGH")
    reasoning = answer["reasoning"]
    if not isinstance(reasoning, str) or not reasoning.strip():
        raise MalformedAnswer("the reasoning is empty")
    return {"action": action, "confidence": confidence, "reasoning": reasoning.strip()[:MAX_REASONING],
            "risk_level": risk}


def _number(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.6g}" if abs(value) < 1 else f"{value:.2f}"
