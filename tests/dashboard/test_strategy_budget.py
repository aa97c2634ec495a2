"""The strategy form says what one entry will use at the current equity (issue 18, defect 8)."""


def test_the_form_shows_notional_and_margin_of_one_entry(logged_in_client, paper):
    form = logged_in_client.get("/strategies/new").content.decode()
    assert 'hx-get="/strategies/budget"' in form and 'hx-include="closest form"' in form
    body = logged_in_client.get("/strategies/budget", {"risk_percentage": "0.5", "stop_loss_percentage": "0.5",
                                                       "leverage": "5", "max_positions": "3"}).content.decode()
    assert "one entry risks 50.00 USDT" in body and "about 10,000.00 USDT" in body
    assert "2,000.00 USDT of margin at" in body and "6,000.00 USDT." in body and "warn" not in body


def test_settings_that_cannot_hold_max_positions_are_warned_about(logged_in_client, paper):
    body = logged_in_client.get("/strategies/budget", {"risk_percentage": "1", "stop_loss_percentage": "0.5",
                                                       "leverage": "1", "max_positions": "3"}).content.decode()
    assert 'class="budget warn"' in body and "later signals skipped" in body


def test_half_typed_numbers_ask_for_the_rest(logged_in_client, paper):
    body = logged_in_client.get("/strategies/budget", {"risk_percentage": "abc"}).content.decode()
    assert "Fill in the risk" in body
