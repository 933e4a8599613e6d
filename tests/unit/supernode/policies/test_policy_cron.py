from datetime import datetime, timezone

import pytest

from dfcommon.errors import DfError
from supernode.policies.cron import convert_dow, parse_cron, split_cron, validate_cron

UTC = timezone.utc


def next_fire(expr, after):
    return parse_cron(expr).get_next_fire_time(None, after)


def test_six_fields_have_seconds_first_like_harbor():
    start = datetime(2026, 3, 4, 1, 0, 0, tzinfo=UTC)
    assert next_fire("30 15 2 * * *", start) == datetime(2026, 3, 4, 2, 15, 30, tzinfo=UTC)


def test_five_fields_are_standard_cron_at_second_zero():
    start = datetime(2026, 3, 4, 1, 0, 10, tzinfo=UTC)
    assert next_fire("*/5 * * * *", start) == datetime(2026, 3, 4, 1, 5, 0, tzinfo=UTC)


def test_day_of_week_numbers_follow_cron_not_apscheduler():
    wednesday = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    assert wednesday.weekday() == 2
    assert next_fire("0 0 * * 0", wednesday).strftime("%a") == "Sun"
    assert next_fire("0 0 * * 7", wednesday).strftime("%a") == "Sun"
    assert next_fire("0 0 * * 1", wednesday).strftime("%a") == "Mon"
    assert next_fire("0 0 0 * * 5", wednesday).strftime("%a") == "Fri"
    assert convert_dow("1-5") == "mon,tue,wed,thu,fri"
    assert convert_dow("*/2") == "sun,tue,thu,sat"
    assert convert_dow("mon-fri") == "mon-fri"
    assert convert_dow("?") == "*"


def test_macros_and_question_marks():
    assert split_cron("@daily") == split_cron("0 0 * * *")
    kw = split_cron("0 0 2 ? * *")
    assert kw["day"] == "*" and kw["second"] == "0"
    assert validate_cron("0   0  2 * * *") == "0 0 2 * * *"


@pytest.mark.parametrize("expr,needle", [
    ("", "required"), ("* * * *", "expected 5 fields"), ("1 2 3 4 5 6 7", "expected 5 fields"),
    ("61 * * * * *", "61"), ("0 0 * * 8", "out of range"), ("0 0 32 * *", "32"), ("x y z a b", "cron"),
])
def test_bad_crons_are_400_with_a_clear_message(expr, needle):
    with pytest.raises(DfError) as e:
        parse_cron(expr)
    assert e.value.http_status == 400 and needle in e.value.message
