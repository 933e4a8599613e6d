import hashlib

from dfcommon import task_id as t


def test_filter_url_param_keeps_order_and_drops_question_mark():
    url = "http://h/p?a=1&Expires=2&b=3&Signature=x"
    assert t.filter_url_param(url, ["Expires", "Signature"]) == "http://h/p?a=1&b=3"
    assert t.filter_url_param("http://h/p?Expires=2", ["Expires"]) == "http://h/p"
    assert t.filter_url_param("http://h/p", ["x"]) == "http://h/p"
    assert t.filter_url_param(url, []) == url


def test_task_id_formula():
    key = ">I$pg-~AS~sP'rqu_`Oh&lz#9]\"=;nE%"
    expected = hashlib.sha256((key + "http://h/f" + "abc" + key).encode()).hexdigest()
    assert t.task_id("http://h/f", md5="abc") == expected
    # identifier only used without md5, Range header included, other headers ignored
    assert t.task_id("http://h/f", md5="abc", identifier="zzz") == expected
    with_range = hashlib.sha256((key + "http://h/f" + "id" + "bytes=0-9" + key).encode()).hexdigest()
    assert t.task_id("http://h/f", identifier="id", headers={"Range": "bytes=0-9", "X": "1"}) == with_range
    assert t.is_task_id(expected) and not t.is_task_id("../etc/passwd")


def test_split_filter():
    assert t.split_filter("a&b&&c") == ["a", "b", "c"]
    assert t.split_filter(None) == []
