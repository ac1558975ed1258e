"""What each channel says: SMS segments with colour and type first, speech without symbols,
escaped e-mail and chat cards, a map of the area."""

from __future__ import annotations

import io

from PIL import Image

from tests.notify.peers import warning_content
from yingji.notify import render


def test_sms_starts_with_issuer_colour_and_type_and_keeps_the_ack_link_whole() -> None:
    content = warning_content()
    link = render.ack_link(content, "tok123")
    assert link == "https://yingji.example.org/ack/tok123"
    text = render.sms_text(content, link)
    assert text.startswith("【庆元县应急管理局】橙色暴雨预警：庆元县气象台发布暴雨橙色预警。")
    assert text.endswith(" 确认收到请点 https://yingji.example.org/ack/tok123")
    segments = render.sms_segments(text)
    assert len(segments) > 1 and all(len(s) <= render.SMS_PART for s in segments)
    assert "".join(segments) == text


def test_a_short_sms_is_one_segment_and_a_long_one_is_cut_to_five() -> None:
    short = render.sms_text(warning_content(description="", instruction="", headline="注意"), None)
    assert short == "【庆元县应急管理局】橙色暴雨预警：注意。"
    assert render.sms_segments(short) == [short]
    long = render.sms_text(warning_content(instruction="雨" * 2000), "https://x.org/ack/t")
    assert len(render.sms_segments(long)) == render.SMS_MAX_SEGMENTS
    assert long.endswith("https://x.org/ack/t") and "…" in long


def test_a_cancellation_says_so_first() -> None:
    text = render.sms_text(warning_content(msg_type="Cancel", headline="解除"), None)
    assert text.startswith("【庆元县应急管理局】解除橙色暴雨预警：")


def test_no_token_means_no_link() -> None:
    assert render.ack_link(warning_content(), None) is None
    assert render.ack_link(warning_content(ack_url=None), "t") is None


def test_speech_has_words_only() -> None:
    content = warning_content(
        instruction="注意：远离河道！详见 https://x.org/a?b=1 <b>", issuer="县局"
    )
    spoken = render.speech_text(content, ask_key=True)
    assert spoken.startswith("县局发布橙色暴雨预警。庆元县气象台发布暴雨橙色预警。")
    assert spoken.endswith("确认收到请按1。")
    assert "http" not in spoken
    assert not set(spoken) & set("【】：:!！?？<>/\\=&*#@()[]{}\"'")


def test_led_is_one_short_line() -> None:
    line = render.led_text(warning_content(headline="很长" * 100))
    assert line.startswith("橙色暴雨预警 ") and len(line) <= render.LED_MAX and "\n" not in line


def test_email_and_card_escape_what_people_typed() -> None:
    content = warning_content(
        headline="<script>alert(1)</script>*粗*", area_desc="[链接](http://x)"
    )
    parts = render.email_parts(content, "https://y.org/ack/t", with_map=True)
    assert "<script>" not in parts["html"] and "&lt;script&gt;" in parts["html"]
    assert "cid:area-map" in parts["html"] and "https://y.org/ack/t" in parts["text"]
    assert parts["subject"].startswith("【橙色暴雨预警】")
    card = render.card(content, "https://y.org/ack/t")
    assert "\\*粗\\*" in card["markdown"] and "\\[链接\\]\\(http://x\\)" in card["markdown"]
    assert card["markdown"].endswith("[确认收到](https://y.org/ack/t)")


def test_the_map_is_a_png_in_the_level_colour() -> None:
    content = warning_content()
    picture = render.map_png(content["area"], "orange")
    assert picture is not None
    image = Image.open(io.BytesIO(picture))
    assert image.format == "PNG" and image.size == render.MAP_SIZE
    centre = image.convert("RGB").getpixel((300, 200))
    assert isinstance(centre, tuple) and centre[0] > centre[2]  # orange-ish, not the grey paper
    assert render.map_png(None, "orange") is None
    assert render.map_png({"type": "Point", "coordinates": [1, 2]}, "red") is None
