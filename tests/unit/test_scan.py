"""Tests for the pre-publication scan (art. 15/16/18/26 of the unit's disclosure rules)."""

from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from approvals.rules.scan import (
    Hit,
    find_classification_markers,
    find_personal_data,
    html_to_text,
    mask,
)

# --------------------------------------------------------------------------- helpers

# GB 11643 / ISO 7064 MOD 11-2, written out here so the tests do not trust stdnum.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# County/city codes that existed for every birth year the property tests draw.
_REGIONS = (
    "110101", "110105", "310104", "120101", "320500", "440100", "430100",
    "350100", "370100", "620100", "410100", "340100", "330100", "510100",
)  # fmt: skip


def make_id(region: str, born: str, sequence: str) -> str:
    """Build an 18-character resident ID with its GB 11643 check character."""
    body = region + born + sequence
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


def luhn_complete(partial: str) -> str:
    """Append the Luhn check digit to partial."""
    total = 0
    for position, char in enumerate(reversed(partial)):
        digit = int(char)
        if position % 2 == 0:  # doubled once the check digit is appended
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return partial + str(-total % 10)


def change_digit(number: str, index: int) -> str:
    """Return number with the digit at index replaced by a different one."""
    return number[:index] + str((int(number[index]) + 1) % 10) + number[index + 1 :]


def group(number: str, sep: str) -> str:
    """Write number in groups of four joined by sep."""
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def blocking(hits: list[Hit]) -> list[Hit]:
    """Only the hits that block publication."""
    return [h for h in hits if h.blocking]


ID_X = make_id("110105", "19491231", "002")  # check character happens to be X
ID_PLAIN = make_id("320500", "19850317", "124")
ID_VISA_LIKE = "440100198005120356"  # also Luhn-valid and starts with 4
UNIONPAY_19 = luhn_complete("622202123456789012")
UNIONPAY_16 = luhn_complete("621234567890123")
CARDS = {
    "unionpay_19": UNIONPAY_19,
    "unionpay_16": UNIONPAY_16,
    "visa": "4111111111111111",
    "mastercard": "5555555555554444",
    "mastercard_2_series": "2223003122003222",
    "amex_15": "378282246310005",
    "jcb": "3530111333300000",
    "discover": "6011111111111117",
    "discover_65": luhn_complete("650000123456789"),
}
# A UnionPay-prefixed sixteen-digit number whose last digit breaks the Luhn check.
BAD_LUHN_16 = change_digit(UNIONPAY_16, 15)


def test_the_test_helpers_build_the_documented_example_numbers() -> None:
    assert ID_X == "11010519491231002X"
    assert make_id("440100", "19800512", "035") == ID_VISA_LIKE
    assert luhn_complete("411111111111111") == "4111111111111111"


# ----------------------------------------------------------------- resident IDs


@pytest.mark.parametrize("number", [ID_X, ID_PLAIN, ID_VISA_LIKE])
def test_a_valid_resident_id_in_prose_is_found_with_its_offsets(number: str) -> None:
    text = f"申请人身份证号码：{number}，请核对。"
    start = text.index(number)
    assert find_personal_data(text) == [Hit("resident_id", number, start, start + 18, True)]


def test_a_lowercase_x_check_character_is_accepted() -> None:
    text = f"身份证 {ID_X.lower()} 已登记"
    assert [h.text for h in find_personal_data(text)] == [ID_X.lower()]


@pytest.mark.parametrize("sep", [" ", "-"])
def test_the_spaced_six_eight_four_form_of_a_resident_id_is_found(sep: str) -> None:
    written = sep.join([ID_X[:6], ID_X[6:14], ID_X[14:]])
    text = f"身份证号{written}。"
    [hit] = find_personal_data(text)
    assert (hit.kind, hit.text, text[hit.start : hit.end]) == ("resident_id", written, written)


@pytest.mark.parametrize("index", [3, 8, 12, 15])
def test_a_resident_id_with_one_digit_changed_is_not_found(index: int) -> None:
    assert find_personal_data(f"身份证号 {change_digit(ID_PLAIN, index)}") == []


def test_an_eighteen_digit_string_with_a_wrong_check_digit_is_not_found() -> None:
    wrong = ID_PLAIN[:-1] + ("1" if ID_PLAIN[-1] != "1" else "2")
    assert find_personal_data(f"编号 {wrong}") == []


def test_a_resident_id_with_an_impossible_birth_date_is_not_found() -> None:
    assert find_personal_data(make_id("110105", "19490231", "002")) == []


def test_a_resident_id_with_an_unknown_province_is_not_found() -> None:
    assert find_personal_data(make_id("990101", "19900101", "001")) == []
    assert find_personal_data(make_id("000000", "19900101", "001")) == []


def test_an_id_keeps_the_code_of_the_office_that_issued_it_whatever_the_birth_year() -> None:
    # 吴江区 (320509) was created in 2012; every adult there was born before it existed.
    number = make_id("320509", "19750604", "123")
    assert [h.text for h in find_personal_data(f"身份证号{number}")] == [number]
    # A county code no table knows, in a real province, is still an ID's shape.
    assert [h.kind for h in find_personal_data(make_id("120206", "19900101", "001"))] == \
        ["resident_id"]


def test_a_first_generation_fifteen_digit_id_counts_where_the_text_names_an_id() -> None:
    old = "320509750604123"
    assert [h.text for h in find_personal_data(f"身份证号：{old}")] == [old]
    assert [h.text for h in find_personal_data(f"公民身份号码 {old}。")] == [old]
    assert find_personal_data(f"订单 {old}") == []  # fifteen digits alone prove nothing
    assert find_personal_data("身份证号：320509751304123") == []  # month 13


@pytest.mark.parametrize("text", [f"A{ID_PLAIN}", f"{ID_PLAIN}B", f"1{ID_PLAIN}", f"{ID_PLAIN}7"])
def test_a_resident_id_glued_to_letters_or_digits_is_not_found(text: str) -> None:
    assert find_personal_data(text) == []


def test_a_luhn_valid_resident_id_is_reported_once_and_not_as_a_bank_card() -> None:
    hits = find_personal_data(f"身份证 {ID_VISA_LIKE}")
    assert [(h.kind, h.text) for h in hits] == [("resident_id", ID_VISA_LIKE)]


# ---------------------------------------------------------------------- mobiles


@pytest.mark.parametrize(
    "written",
    [
        "13812345678",
        "19912345678",
        "+8613812345678",
        "8613812345678",
        "86 13812345678",
        "+86 138 1234 5678",
        "(+86)13812345678",
        "(+86) 138-1234-5678",
        "（+86）138-1234-5678",
        "138 1234 5678",
        "138-1234-5678",
        "１３８１２３４５６７８",
    ],
)
def test_a_mobile_number_is_found_in_every_accepted_form(written: str) -> None:
    text = f"联系人：张先生，电话{written}。"
    start = text.index(written)
    assert find_personal_data(text) == [Hit("mobile", written, start, start + len(written), True)]


@pytest.mark.parametrize(
    "text",
    [
        "12812345678",  # 12x is not a mobile prefix
        "10012345678",
        "23812345678",
        "138123456789",  # twelve digits
        "913812345678",
        "138 1234 5678 9012",  # a longer grouped run
        "138 1234-5678",  # mixed separators
        "138  1234  5678",  # double spaces
    ],
)
def test_an_eleven_digit_run_that_is_not_a_mobile_is_not_found(text: str) -> None:
    assert find_personal_data(text) == []


# -------------------------------------------------------------------- bank cards


@pytest.mark.parametrize("name", sorted(CARDS))
def test_a_luhn_valid_card_is_found_written_contiguously(name: str) -> None:
    number = CARDS[name]
    text = f"请转账至卡号{number}，户名张三"
    start = text.index(number)
    assert find_personal_data(text) == [Hit("bank_card", number, start, start + len(number), True)]


@pytest.mark.parametrize("sep", [" ", "-"])
@pytest.mark.parametrize("number", [UNIONPAY_19, UNIONPAY_16, "4111111111111111"])
def test_a_luhn_valid_card_is_found_written_in_groups_of_four(number: str, sep: str) -> None:
    written = group(number, sep)
    text = f"开户行：某银行，账号 {written} 。"
    assert [(h.kind, h.text) for h in find_personal_data(text)] == [("bank_card", written)]


@pytest.mark.parametrize("index", [2, 7, 11, 15])
def test_a_card_with_one_digit_changed_is_not_found(index: int) -> None:
    changed = change_digit(UNIONPAY_19, index)
    assert find_personal_data(f"卡号{changed}") == []
    assert find_personal_data(f"卡号 {group(changed, ' ')}") == []


def test_a_luhn_valid_number_without_a_card_issuer_prefix_is_not_found() -> None:
    assert find_personal_data(luhn_complete("123456789012345")) == []
    assert find_personal_data(luhn_complete("99990000111122223")) == []


def test_a_card_embedded_in_a_longer_digit_run_is_not_found() -> None:
    assert find_personal_data(f"订单号{UNIONPAY_19}0001") == []
    assert find_personal_data(f"订单号88{CARDS['visa']}") == []
    assert find_personal_data(f"流水 {group(CARDS['visa'] + '1234', ' ')}") == []
    assert find_personal_data(f"流水 {group(UNIONPAY_19, '-')}-88") == []


def test_a_number_outside_the_mastercard_2_series_range_is_not_a_card() -> None:
    assert find_personal_data(luhn_complete("220012345678901")) == []
    assert find_personal_data(luhn_complete("272112345678901")) == []


# ------------------------------------------------------------- must not trigger

MUST_NOT_TRIGGER = [
    "2023年11月27日",
    "2023-11-27",
    "20231127",
    "吴应急〔2023〕12号",
    "苏应急〔2023〕105号",
    "文号 吴政办发〔2022〕88号",
    "生态环境问题请拨打12350举报，政务服务热线12345。",
    "值班电话 0512-63981234",
    "服务热线 400-820-1234",
    "报警请拨110，火警请拨119。",
    "项目总投资1,234,567.89元",
    "12345678901234567元",
    "奖励人民币 3000000 元",
    "邮编215200",
    "2023年共受理 1234 件，办结率 99.5%，覆盖 16 个镇（街道）。",
    f"编号 {BAD_LUHN_16}",
    "订单号 2023112700000012345678",
    "设备序列号 SN62220212345678901234567",
    "招标编号 JSZC-3205-2023-0001",
]


@pytest.mark.parametrize("text", MUST_NOT_TRIGGER)
def test_ordinary_numbers_in_a_post_do_not_trigger(text: str) -> None:
    assert find_personal_data(text) == []
    assert find_classification_markers(text) == []


def test_the_sixteen_digit_example_really_fails_luhn() -> None:
    assert luhn_complete(BAD_LUHN_16[:-1]) != BAD_LUHN_16


# ------------------------------------------------------ classification markings


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        ("本文件为绝密。", "绝密"),
        ("涉及军事机密的内容", "机密"),
        ("机密★1年", "机密★1年"),
        ("绝密★长期", "绝密★长期"),
        ("秘密★长期", "秘密★长期"),
        ("标注 ★秘密 字样", "★秘密"),
        ("绝密 ★ 10年", "绝密 ★ 10年"),
        ("秘密★6个月", "秘密★6个月"),
        ("秘密\n关于开展安全检查的通知", "秘密"),
        ("通知\n  秘密 第3号", "秘密"),
        ("\u3000秘密", "秘密"),
        ("附件【秘密】", "【秘密】"),
        ("附件[秘密]", "[秘密]"),
        ("附件（秘密）", "（秘密）"),
        ("附件(秘密)", "(秘密)"),
        ("附件【机密★1年】", "【机密★1年】"),
        ("本书为内部资料", "内部资料"),
        ("属内部文件", "内部文件"),
        ("内部刊物，请勿外传", "内部刊物"),
        ("阅后注意保存", "注意保存"),
        ("依法不予公开", "不予公开"),
        ("该信息不宜公开", "不宜公开"),
    ],
)
def test_each_classification_marking_is_found_as_one_blocking_hit(text: str, marker: str) -> None:
    start = text.index(marker)
    assert blocking(find_classification_markers(text)) == [
        Hit("classification_marker", marker, start, start + len(marker), True)
    ]


def test_every_occurrence_of_a_marking_is_reported() -> None:
    text = "内部资料 注意保存\n绝密材料与绝密档案"
    found = [(h.text, h.start) for h in find_classification_markers(text)]
    assert found == [("内部资料", 0), ("注意保存", 5), ("绝密", 10), ("绝密", 15)]


@pytest.mark.parametrize(
    ("text", "mention"),
    [
        ("严格保守国家秘密。", "秘密"),
        ("侵犯商业秘密的行为", "秘密"),
        ("学习《中华人民共和国保守国家秘密法》", "秘密"),
        ("涉密信息不得发布", "涉密"),
        ("严禁在互联网上处理涉密文件", "涉密"),
        ("保护企业商业机密", "商业机密"),
        ("信息的机密性、完整性和可用性", "机密性"),
        ("第一行\n他们秘密地策划", "秘密"),
    ],
)
def test_a_benign_mention_is_a_warning_not_a_block(text: str, mention: str) -> None:
    hits = find_classification_markers(text)
    start = text.index(mention)
    assert hits == [Hit("classification_mention", mention, start, start + len(mention), False)]


def test_hits_are_returned_in_text_order_with_matching_offsets() -> None:
    text = "涉密人员须知\n秘密\n不得泄露国家秘密，【绝密】文件单独保管。"
    hits = find_classification_markers(text)
    assert [h.start for h in hits] == sorted(h.start for h in hits)
    assert all(text[h.start : h.end] == h.text for h in hits)
    assert [(h.text, h.blocking) for h in hits] == [
        ("涉密", False),
        ("秘密", True),
        ("秘密", False),
        ("【绝密】", True),
    ]


# ------------------------------------------------------------------------ HTML


def test_html_entities_are_unescaped() -> None:
    assert html_to_text("<p>A&amp;B &lt;通知&gt; &#20013;&#x6587;</p>").strip() == "A&B <通知> 中文"


def test_script_and_style_content_is_dropped() -> None:
    text = html_to_text("<style>p{color:red}</style><p>正文</p><script>var s='机密';</script>")
    assert text.strip() == "正文"


def test_block_elements_become_line_breaks() -> None:
    html = (
        "<section><h1>标题</h1><div>甲</div><p>乙<br>丙<br/>丁</p>"
        "<ul><li>一</li><li>二</li></ul><blockquote>引</blockquote>"
        "<table><tr><td>格</td></tr></table></section>"
    )
    lines = [line for line in html_to_text(html).split("\n") if line]
    assert lines == ["标题", "甲", "乙", "丙", "丁", "一", "二", "引", "格"]


def test_inline_elements_and_comments_do_not_break_lines() -> None:
    assert html_to_text("<p>甲<span>乙</span><!-- 机密 --><b>丙</b></p>").strip() == "甲乙丙"


def test_a_marking_at_the_start_of_a_paragraph_counts_as_line_start() -> None:
    text = html_to_text("<p>关于安全检查的通知</p><p>  秘密</p><p>正文</p>")
    assert [h.text for h in blocking(find_classification_markers(text))] == ["秘密"]


def test_a_source_newline_inside_a_paragraph_is_not_a_line_start() -> None:
    text = html_to_text("<p>我们要严守\n秘密，做好工作</p>")
    assert blocking(find_classification_markers(text)) == []


def test_personal_data_split_by_nbsp_entities_is_still_found() -> None:
    text = html_to_text("<p>电话：138&nbsp;1234&nbsp;5678</p>")
    assert [h.kind for h in find_personal_data(text)] == ["mobile"]


def test_malformed_markup_keeps_the_text_after_it() -> None:
    text = html_to_text("<p>甲<![bogus[ 机密 <p>乙</p>")
    assert "机密" in text
    assert "乙" in text


# ------------------------------------------------------------------------- mask


@pytest.mark.parametrize(
    ("kind", "text", "masked"),
    [
        ("resident_id", ID_X, "1101**********002X"),
        ("resident_id", "110105 19491231 002X", "1101** ******** 002X"),
        ("mobile", "13812345678", "138****5678"),
        ("mobile", "+86 138-1234-5678", "+86 138-****-5678"),
        ("bank_card", "6222 0212 3456 0123", "6222 **** **** 0123"),
        ("bank_card", "6222021234567890123", "6222***********0123"),
    ],
)
def test_mask_keeps_only_the_first_and_last_significant_characters(
    kind: str, text: str, masked: str
) -> None:
    assert mask(kind, text) == masked


def test_masked_hits_never_contain_the_full_number() -> None:
    text = (
        f"身份证{ID_PLAIN}，手机+86 139 8765 4321，"
        f"卡号{group(UNIONPAY_19, '-')}，另一卡{CARDS['amex_15']}"
    )
    hits = find_personal_data(text)
    assert len(hits) == 4
    for hit in hits:
        masked = mask(hit.kind, hit.text)
        assert len(masked) == len(hit.text)
        assert "*" in masked
        compact = "".join(c for c in hit.text if c.isalnum())
        assert compact not in "".join(c for c in masked if c.isalnum())
        assert hit.text not in masked


def test_mask_hides_everything_when_too_short_to_show_ends() -> None:
    assert mask("bank_card", "12345678") == "********"


def test_mask_leaves_classification_hits_readable() -> None:
    assert mask("classification_marker", "机密★1年") == "机密★1年"


# ---------------------------------------------------------- property-based tests

_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
_ASCII_NO_DIGITS = st.sampled_from(string.ascii_letters + " ,.;:!?-+()[]/\n")
_PUNCT = st.sampled_from("，。、：；！？（）【】《》“” \u3000")
PROSE = st.text(st.one_of(_CJK, _ASCII_NO_DIGITS, _PUNCT), max_size=40)
# Characters that end a word; with one of them on each side an ID is not glued to letters.
_SEPARATOR = st.sampled_from([" ", "，", "：", "。", "\n", "号码", "（", "）"])


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    """A resident ID valid in region, birth date and check character."""
    born = draw(st.dates(min_value=date(1950, 1, 1), max_value=date(2009, 12, 31)))
    number = make_id(
        draw(st.sampled_from(_REGIONS)),
        born.strftime("%Y%m%d"),
        f"{draw(st.integers(0, 999)):03d}",
    )
    return number.lower() if draw(st.booleans()) else number


@given(valid_ids(), PROSE, _SEPARATOR, _SEPARATOR, PROSE)
def test_any_valid_id_in_random_prose_is_found_at_its_offsets(
    number: str, before: str, left: str, right: str, after: str
) -> None:
    text = before + left + number + right + after
    start = len(before + left)
    assert find_personal_data(text) == [Hit("resident_id", number, start, start + 18, True)]


# Every gap between digit runs holds a character that cannot join number groups.
_BREAKER = st.one_of(_CJK, st.sampled_from(string.ascii_letters + "，。：;/"))
_GAP = st.builds(lambda a, b, c: a + b + c, PROSE, _BREAKER, PROSE)


@given(PROSE, st.lists(st.tuples(st.text("0123456789", min_size=1, max_size=10), _GAP)))
def test_short_digit_runs_in_digit_free_text_are_never_personal_data(
    head: str, chunks: list[tuple[str, str]]
) -> None:
    text = head + "".join(digits + gap for digits, gap in chunks)
    assert find_personal_data(text) == []


@given(st.one_of(st.text(), st.text(st.sampled_from("<>!/[]-?&#;=\"' apbrdivscriptyle\n秘"))))
def test_html_to_text_never_raises(html: str) -> None:
    assert isinstance(html_to_text(html), str)


@given(st.text(st.one_of(_CJK, st.sampled_from("0123456789 -+()Xx★【】秘密机绝涉商业\n"))))
def test_every_hit_slices_back_to_its_text(text: str) -> None:
    for hit in find_personal_data(text) + find_classification_markers(text):
        assert text[hit.start : hit.end] == hit.text


# Any county code under a known province, any birth date from 1900 on: the region code is the
# issuing office's, not something a table of codes can confirm for the holder's birth year.
_PROVINCE_CODES = ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35",
                   "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54",
                   "61", "62", "63", "64", "65", "71", "81", "82", "83")


@st.composite
def real_shaped_ids(draw: st.DrawFn) -> str:
    """A resident ID as people really hold them: issuing office anywhere in a province."""
    region = draw(st.sampled_from(_PROVINCE_CODES)) + f"{draw(st.integers(0, 9999)):04d}"
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)))
    return make_id(region, born.strftime("%Y%m%d"), f"{draw(st.integers(0, 999)):03d}")


@st.composite
def written_out(draw: st.DrawFn, number: str) -> str:
    """The number as an editor might type it: whole, or in up to six groups of two or more
    characters split by one kind of separator, maybe in full-width digits."""
    cuts = sorted(draw(st.sets(st.integers(2, len(number) - 2), max_size=5)))
    cuts = [c for k, c in enumerate(cuts) if k == 0 or c - cuts[k - 1] >= 2]
    sep = draw(st.sampled_from([" ", "-", "\u3000"]))
    parts = [number[a:b] for a, b in zip([0, *cuts], [*cuts, len(number)], strict=True)]
    text = sep.join(parts)
    if draw(st.booleans()):
        text = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)
    return text


@given(real_shaped_ids(), st.data(), PROSE, _SEPARATOR, _SEPARATOR, PROSE)
def test_a_real_shaped_id_is_found_however_it_is_written(
    number: str, data: st.DataObject, before: str, left: str, right: str, after: str
) -> None:
    written = data.draw(written_out(number))
    text = before + left + written + right + after
    start = len(before + left)
    hits = find_personal_data(text)
    assert [(h.kind, h.start, h.end) for h in hits] == [("resident_id", start, start + len(written))]
    assert number[6:14] not in mask("resident_id", written).replace(" ", "").replace("-", "")


@given(real_shaped_ids(), st.integers(0, 16))
def test_an_id_with_any_one_digit_changed_is_never_found(number: str, index: int) -> None:
    # (It may happen to be a Luhn-valid card number; it is no longer an ID.)
    hits = find_personal_data(f"编号 {change_digit(number, index)}")
    assert [h for h in hits if h.kind == "resident_id"] == []


@given(real_shaped_ids(), st.sampled_from(["2023", "0512", "12", "共3人"]))
def test_an_id_right_after_another_number_is_still_found(number: str, before: str) -> None:
    text = f"{before} {number}"
    assert [h.text for h in find_personal_data(text)] == [number]
