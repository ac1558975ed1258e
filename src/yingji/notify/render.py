"""What each channel says, rendered from a message's structured content (pure functions).

A warning's content is :class:`WarningContent` (built by the warning domain at publication; the
same for a repeat or an escalation of the 叫应 chain). Each channel gets its own form:

* SMS: colour and type first (``【庆元县应急管理局】橙色暴雨预警：…``), segments of at most 70
  characters (67 each once the text needs more than one), at most :data:`SMS_MAX_SEGMENTS`;
* speech (voice gateway, loudspeakers): words only, no symbols or links;
* e-mail: subject, plain text, HTML (every value escaped) and a PNG map of the area;
* chat card (DingTalk, WeCom): Markdown with the values escaped and the acknowledge link;
* LED board: one short line.

Text people typed (a headline, an instruction) travels as data: it is escaped for HTML and
Markdown and never read as markup.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Mapping
from typing import TypedDict

from PIL import Image, ImageDraw

SMS_SEGMENT = 70  # characters of one UCS-2 SMS
SMS_PART = 67  # characters of each part of a concatenated one
SMS_MAX_SEGMENTS = 5
LED_MAX = 60
LEVEL_RGB: dict[str, tuple[int, int, int]] = {
    "red": (230, 0, 18),
    "orange": (255, 140, 0),
    "yellow": (255, 215, 0),
    "blue": (30, 100, 230),
}
LEVEL_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}


class WarningContent(TypedDict, total=False):
    """``OutboundMessage.content`` of a warning (the contract between the warning domain and
    notify); ``title``/``body`` serve any other kind of message."""

    kind: str
    warning_id: str
    number: str
    msg_type: str
    type_code: str | None
    type_zh: str
    type_en: str
    level: str | None
    level_zh: str
    headline: str
    description: str
    instruction: str
    issuer: str
    area_desc: str
    area: dict[str, object] | None
    onset_at: str | None
    expires_at: str | None
    sent_at: str
    ack_url: str | None
    must_ack: bool
    title: str
    body: str


def _text(content: Mapping[str, object], key: str, limit: int = 2000) -> str:
    value = content.get(key)
    return _clean(str(value))[:limit] if isinstance(value, str | int | float) else ""


def _clean(text: str) -> str:
    """No control characters (a line break becomes a space)."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


def ack_link(content: Mapping[str, object], token: str | None) -> str | None:
    """The recipient's acknowledge link: the content's template with their token, or None."""
    template = content.get("ack_url")
    if not isinstance(template, str) or not template or not token:
        return None
    return template.replace("{token}", token) if "{token}" in template else None


def is_cancel(content: Mapping[str, object]) -> bool:
    return content.get("msg_type") == "Cancel"


def level_zh(content: Mapping[str, object]) -> str:
    given = _text(content, "level_zh", 10)
    level = content.get("level")
    return given or (LEVEL_ZH.get(level, "") if isinstance(level, str) else "")


def label(content: Mapping[str, object]) -> str:
    """``橙色暴雨预警`` (or ``解除橙色暴雨预警`` for a cancellation); a message that is no
    warning: its title."""
    if content.get("kind") != "warning":
        return _text(content, "title", 200) or _text(content, "headline", 200)
    kind = _text(content, "type_zh", 40)
    words = f"{level_zh(content)}{kind}预警"
    return f"解除{words}" if is_cancel(content) else words


def _body(content: Mapping[str, object]) -> str:
    if content.get("kind") != "warning":
        return _text(content, "body")
    headline = _text(content, "headline", 300)
    return headline or _text(content, "description")


def sms_text(content: Mapping[str, object], ack_url: str | None) -> str:
    """The SMS: ``【issuer】<colour><type>预警：<headline>`` then the area and what to do, cut
    to :data:`SMS_MAX_SEGMENTS` segments; the acknowledge link is always kept whole."""
    issuer = _text(content, "issuer", 30)
    head = (f"【{issuer}】" if issuer else "") + f"{label(content)}："
    body = _body(content)
    extra = ""
    if content.get("kind") == "warning" and not is_cancel(content):
        instruction = _text(content, "instruction", 500)
        extra = f"{instruction}" if instruction else ""
    tail = f"确认收到请点 {ack_url}" if ack_url else ""
    text = head + body + ("。" if body and not body.endswith("。") else "") + extra
    budget = SMS_PART * SMS_MAX_SEGMENTS - len(tail) - (1 if tail else 0)
    if len(text) > budget:
        text = text[: max(budget - 1, len(head))] + "…"
    return f"{text} {tail}" if tail else text


def sms_segments(text: str) -> list[str]:
    """How a phone receives ``text``: one segment of ≤ 70 characters, or parts of ≤ 67."""
    if len(text) <= SMS_SEGMENT:
        return [text]
    return [text[i : i + SMS_PART] for i in range(0, len(text), SMS_PART)]


_SPOKEN_STOPS = str.maketrans(
    {"：": "，", ":": "，", "；": "，", ";": "，", "！": "。", "!": "。", "？": "。", "?": "。"}
)


def speech_text(content: Mapping[str, object], *, ask_key: bool = False) -> str:
    """Words to speak: no links and no symbols, only words, digits, ``，`` and ``。``."""
    issuer = _text(content, "issuer", 60)
    parts = [f"{issuer}发布{label(content)}" if issuer else label(content)]
    parts.append(_body(content))
    if content.get("kind") == "warning" and not is_cancel(content):
        parts.append(_text(content, "instruction", 500))
    if ask_key:
        parts.append("确认收到请按1")
    text = "。".join(p for p in parts if p)
    text = re.sub(r"https?://\S+", " ", text).translate(_SPOKEN_STOPS)
    text = re.sub(r"[^\w\u4e00-\u9fff，。、 ]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"[，。 ]*。[，。 ]*", "。", text)
    return text if text.endswith("。") else f"{text}。"


def led_text(content: Mapping[str, object]) -> str:
    """One line for an LED board: the label and the headline, at most :data:`LED_MAX`."""
    text = f"{label(content)} {_body(content)}".strip()
    return text if len(text) <= LED_MAX else text[: LED_MAX - 1] + "…"


def _times(content: Mapping[str, object]) -> str:
    onset, expires = _text(content, "onset_at", 40), _text(content, "expires_at", 40)
    if onset and expires:
        return f"{onset} 至 {expires}"
    return onset or expires


class EmailParts(TypedDict):
    subject: str
    text: str
    html: str


def email_parts(
    content: Mapping[str, object], ack_url: str | None, *, with_map: bool
) -> EmailParts:
    """Subject, plain text and HTML; the HTML shows the map as ``cid:area-map``."""
    title = label(content)
    issuer = _text(content, "issuer", 100)
    headline = _body(content)
    rows = [
        ("发布单位", issuer),
        ("预警编号", _text(content, "number", 60)),
        ("影响区域", _text(content, "area_desc", 500)),
        ("有效时间", _times(content)),
        ("预警内容", _text(content, "description")),
        ("防御指南", _text(content, "instruction")),
    ]
    rows = [(k, v) for k, v in rows if v]
    text_lines = [f"{title}：{headline}", ""] + [f"{k}：{v}" for k, v in rows]
    if ack_url:
        text_lines += ["", f"确认收到：{ack_url}"]
    colour = LEVEL_RGB.get(str(content.get("level")), (80, 80, 80))
    hex_colour = "#{:02x}{:02x}{:02x}".format(*colour)
    body = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    link = f"<p><a href='{html.escape(ack_url, quote=True)}'>确认收到</a></p>" if ack_url else ""
    picture = "<p><img src='cid:area-map' alt='影响区域' width='600' height='400'></p>"
    page = (
        "<html><body>"
        f"<h2 style='color:{hex_colour}'>{html.escape(title)}</h2>"
        f"<p>{html.escape(headline)}</p><table>{body}</table>"
        f"{picture if with_map else ''}{link}</body></html>"
    )
    subject = f"【{title}】{headline}"[:200]
    return {"subject": subject, "text": "\n".join(text_lines), "html": page}


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")


def _md(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


class Card(TypedDict):
    title: str
    markdown: str


def card(content: Mapping[str, object], ack_url: str | None) -> Card:
    """A chat card (Markdown): the label as title, the values escaped, the ack link last."""
    title = label(content)
    lines = [f"### {_md(title)}", "", _md(_body(content))]
    for key, name in (("area_desc", "影响区域"), ("instruction", "防御指南")):
        value = _text(content, key, 500)
        if value:
            lines += ["", f"**{name}**：{_md(value)}"]
    times = _times(content)
    if times:
        lines += ["", f"**有效时间**：{_md(times)}"]
    if ack_url:
        lines += ["", f"[确认收到]({ack_url})"]
    return {"title": title[:60], "markdown": "\n".join(lines)}


def app_notice(content: Mapping[str, object]) -> tuple[str, str]:
    """The in-app notification's title and body."""
    return label(content)[:200] or "通知", _body(content)[:2000]


# --- the area map -----------------------------------------------------------------------------

MAP_SIZE = (600, 400)
MAP_MAX_POINTS = 200_000


def _rings(area: Mapping[str, object]) -> list[list[tuple[float, float]]]:
    kind = area.get("type")
    coordinates = area.get("coordinates")
    if not isinstance(coordinates, list):
        return []
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else []
    rings: list[list[tuple[float, float]]] = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon or not isinstance(polygon[0], list):
            continue
        ring = [
            (float(p[0]), float(p[1]))
            for p in polygon[0]
            if isinstance(p, list | tuple)
            and len(p) >= 2
            and all(isinstance(v, int | float) and math.isfinite(v) for v in p[:2])
        ]
        if len(ring) >= 3:
            rings.append(ring)
    return rings


def map_png(area: object, level: object) -> bytes | None:
    """A PNG of the area's outer rings, filled in the level's colour (None without an area)."""
    if not isinstance(area, Mapping):
        return None
    rings = _rings(area)
    if not rings or sum(len(r) for r in rings) > MAP_MAX_POINTS:
        return None
    lons = [p[0] for r in rings for p in r]
    lats = [p[1] for r in rings for p in r]
    min_lon, max_lon, min_lat, max_lat = min(lons), max(lons), min(lats), max(lats)
    x_scale = math.cos(math.radians((min_lat + max_lat) / 2)) or 1.0
    width, height = MAP_SIZE
    span_x = max((max_lon - min_lon) * x_scale, 1e-9)
    span_y = max(max_lat - min_lat, 1e-9)
    scale = min((width - 40) / span_x, (height - 40) / span_y)
    left = (width - span_x * scale) / 2
    top = (height - span_y * scale) / 2

    def pixel(lon: float, lat: float) -> tuple[float, float]:
        return left + (lon - min_lon) * x_scale * scale, top + (max_lat - lat) * scale

    image = Image.new("RGB", MAP_SIZE, (250, 250, 247))
    layer = Image.new("RGBA", MAP_SIZE, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for x in range(0, width, 50):
        draw.line([(x, 0), (x, height)], fill=(220, 220, 215, 255))
    for y in range(0, height, 50):
        draw.line([(0, y), (width, y)], fill=(220, 220, 215, 255))
    colour = LEVEL_RGB.get(str(level), (90, 90, 90))
    for ring in rings:
        points = [pixel(lon, lat) for lon, lat in ring]
        draw.polygon(points, fill=(*colour, 110), outline=(*colour, 255), width=3)
    image.paste(layer, (0, 0), layer)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
