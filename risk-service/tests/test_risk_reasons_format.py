"""How numbers read in risk's messages (reasons.py): what a trader sees in the ticket, word for word."""

from decimal import Decimal

import pytest

from risk_service.reasons import pct, shares, usd


@pytest.mark.parametrize(("value", "text"), [
    ("15", "15%"), ("15.7894", "15.79%"), ("0.6", "0.6%"), ("1751.4903", "1,751.49%"),
    ("525845196.3121", "525,845,196.31%"),
])
def test_pct_when_any_size_then_two_decimals_at_most_and_thousands_separated(value, text):
    assert pct(Decimal(value)) == text


def test_usd_and_shares_when_large_then_thousands_separated():
    assert usd(Decimal("1000000000")) == "$1,000,000,000.00"
    assert shares(Decimal("1000000")) == "1,000,000"
