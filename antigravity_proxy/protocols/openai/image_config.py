"""Gemini's ``imageConfig`` from the OpenAI Images parameters and the model name (pure).

Reference protocol-translation §3.11: ``aspectRatio`` from ``size`` (``WxH`` or
``W:H``, to the nearest supported ratio) or from a model suffix (``-16x9``);
``imageSize`` from ``image_size``, else ``quality``, else a suffix (``-4k``). The
model name loses those suffixes before it is resolved to an upstream model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from antigravity_proxy.models import is_image_model, resolve_model
from antigravity_proxy.protocols.openai.types import as_str, invalid_value

DEFAULT_IMAGE_MODEL: Final = "gemini-3.1-flash-image"
OPENAI_IMAGE_PREFIXES: Final = ("dall-e", "gpt-image", "chatgpt-image")
# Priority order of the reference: a tie in distance goes to the earlier ratio.
ASPECT_RATIOS: Final = tuple("21:9 16:9 4:3 3:4 9:16 3:2 2:3 5:4 4:5 1:1".split())
RATIO_SUFFIXES: Final[Mapping[str, str]] = {
    **{"-" + ratio.replace(":", "x"): ratio for ratio in ASPECT_RATIOS},
    "-21-9": "21:9",
    "-16-9": "16:9",
}
SIZE_SUFFIXES: Final[Mapping[str, str | None]] = {
    "-4k": "4K",
    "-hd": "4K",
    "-2k": "2K",
    "-1k": "1K",
    "-standard": None,
    "-medium": None,
}
IMAGE_SIZE_FROM_QUALITY: Final[Mapping[str, str | None]] = {
    "hd": "4K",
    "high": "4K",
    "4k": "4K",
    "medium": "2K",
    "2k": "2K",
    "standard": "1K",
    "low": "1K",
    "1k": "1K",
    "auto": None,
}
IMAGE_SIZES: Final = ("1K", "2K", "4K")
MAX_DIGITS: Final = 6
"""Digits of a ``size`` side (or of ``n``): more is never a real image."""


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """Gemini's ``imageConfig``; None fields are left to the upstream."""

    aspect_ratio: str | None = None
    image_size: str | None = None

    def over(self, base: ImageConfig) -> ImageConfig:
        """This config, with ``base`` filling the fields this one leaves open."""
        return ImageConfig(
            self.aspect_ratio or base.aspect_ratio, self.image_size or base.image_size
        )

    def to_upstream(self) -> dict[str, str]:
        found = {"aspectRatio": self.aspect_ratio, "imageSize": self.image_size}
        return {k: v for k, v in found.items() if v is not None}


def split_image_suffixes(model: str) -> tuple[str, ImageConfig]:
    """``gemini-3-pro-image-16x9-4k`` -> (``gemini-3-pro-image``, 16:9, 4K).

    Suffixes are stripped from the end, repeatedly and in any order; the one
    nearest the end wins when two say the same thing.
    """
    name = model.lower()
    ratio: str | None = None
    size: str | None = None
    while True:
        for suffix, value in RATIO_SUFFIXES.items():
            if name.endswith(suffix):
                ratio = ratio or value
                break
        else:
            for suffix, size_value in SIZE_SUFFIXES.items():
                if name.endswith(suffix):
                    size = size or size_value
                    break
            else:
                return name, ImageConfig(ratio, size)
        name = name[: -len(suffix)]


def aspect_ratio_for_size(size: str) -> str | None:
    """The supported aspect ratio nearest to ``WxH`` or ``W:H``; None if invalid.

    Nearest on a log scale, so ``2:1`` and ``1:2`` are judged alike; a tie goes to
    the ratio listed first in ``ASPECT_RATIOS`` (the reference's priority).
    """
    text = size.strip().lower()
    if text in ASPECT_RATIOS:
        return text
    for separator in ("x", ":"):
        width, found, height = text.partition(separator)
        if found:
            break
    else:
        return None
    w, h = small_natural(width), small_natural(height)
    if not (w and h):
        return None
    wanted = math.log(w / h)
    return min(ASPECT_RATIOS, key=lambda r: abs(_log_ratio(r) - wanted))


def small_natural(text: str, max_digits: int = MAX_DIGITS) -> int | None:
    """``text`` as a non-negative integer of ASCII digits; None otherwise.

    Why not ``str.isdigit``: it accepts ``²`` and other digits ``int()`` refuses,
    and an unbounded run of digits overflows a float or ``int()``'s digit limit.
    """
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > max_digits:
        return None
    return int(text)


def image_model(requested: str, mapping: Mapping[str, str]) -> tuple[str, ImageConfig]:
    """The upstream image model for the client's ``model``, and its suffix config.

    ``model_mapping`` applies first; a size/ratio suffix on the client's name or
    on the mapped name survives mapping (the mapped one wins). Why a non-image
    model, or one of OpenAI's, becomes the default one: OpenAI clients send
    ``dall-e-3`` or ``gpt-image-1``, which no account serves.
    """
    mapped = resolve_model(requested, mapping)
    _, asked = split_image_suffixes(requested)
    clean, target = split_image_suffixes(mapped)
    upstream = resolve_model(clean, {})
    if not is_image_model(upstream) or upstream.startswith(OPENAI_IMAGE_PREFIXES):
        upstream = DEFAULT_IMAGE_MODEL
    return upstream, target.over(asked)


def config_from_fields(fields: Mapping[str, Any]) -> ImageConfig:
    """``size``/``aspect_ratio`` and ``image_size``/``quality``; 400 when invalid."""
    return ImageConfig(_size_ratio(fields), _image_size(fields))


def text_field(fields: Mapping[str, Any], key: str) -> str | None:
    """A string field (JSON or form); None when absent or empty."""
    value = fields.get(key)
    if value is None or value == "":
        return None
    return as_str(value, key)


def _log_ratio(ratio: str) -> float:
    width, _, height = ratio.partition(":")
    return math.log(int(width) / int(height))


def _size_ratio(fields: Mapping[str, Any]) -> str | None:
    key = "aspect_ratio" if text_field(fields, "aspect_ratio") else "size"
    size = text_field(fields, key)
    if size is None or size == "auto":
        return None
    ratio = aspect_ratio_for_size(size)
    if ratio is None:
        raise invalid_value(
            key, f"'{size}' is not a size like 1024x1024 or a ratio like 16:9."
        )
    return ratio


def _image_size(fields: Mapping[str, Any]) -> str | None:
    explicit = text_field(fields, "image_size") or text_field(fields, "imageSize")
    if explicit is not None:
        if explicit.upper() not in IMAGE_SIZES:
            raise invalid_value("image_size", f"'{explicit}' is not 1K, 2K or 4K.")
        return explicit.upper()
    quality = text_field(fields, "quality")
    if quality is None:
        return None
    if quality.lower() not in IMAGE_SIZE_FROM_QUALITY:
        options = ", ".join(IMAGE_SIZE_FROM_QUALITY)
        raise invalid_value("quality", f"'{quality}' is not one of {options}.")
    return IMAGE_SIZE_FROM_QUALITY[quality.lower()]
