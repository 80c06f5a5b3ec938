import pytest

from intake.phones import InvalidPhone, normalise


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("138 0013 8000", "+8613800138000"),
        ("13800138000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("010-6552 9988", "+861065529988"),
        ("(010) 65529988", "+861065529988"),
        ("0755 8888 6666", "+8675588886666"),
        ("+49 30 1234567", "+49301234567"),
    ],
)
def test_chinese_and_international_numbers_normalise_to_e164(raw, e164):
    assert normalise(raw) == e164


@pytest.mark.parametrize("raw", ["", "hello", "12", "+86"])
def test_garbage_is_refused(raw):
    with pytest.raises(InvalidPhone):
        normalise(raw)
