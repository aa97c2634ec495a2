import json
import logging

from django.test import override_settings

from core.logs import RedactSecretsFilter, StructuredFormatter, redact


def make_record(message, *args, **extra):
    record = logging.LogRecord("trades.cycle", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_it_appends_context_fields_to_each_line():
    record = make_record("order placed", strategy="scalper", symbol="BTCUSDT", order_link_id="tb-1-abc")
    line = StructuredFormatter().format(record)
    assert line.endswith("INFO    trades.cycle: order placed strategy=scalper symbol=BTCUSDT order_link_id=tb-1-abc")


def test_it_writes_one_json_object_per_line():
    record = make_record("order placed", symbol="BTCUSDT")
    payload = json.loads(StructuredFormatter(fmt="json").format(record))
    assert payload["message"] == "order placed"
    assert payload["symbol"] == "BTCUSDT"


@override_settings(SECRET_VALUES=["sk-test-SECRET-123"])
def test_it_masks_configured_secrets_and_token_shaped_values():
    record = make_record("calling with key %s", "sk-test-SECRET-123")
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == "calling with key ***"
    assert redact("POST https://api.telegram.org/bot123456:AAH-token_x/sendMessage") == (
        "POST https://api.telegram.org/bot***/sendMessage")
    assert "abcdef123456" not in redact("headers {'X-BAPI-API-KEY': 'abcdef123456'}")
