"""JSON text straight from the C encoder, built once.

`json.dumps` and `JSONEncoder.encode` build a new C encoder on every call; for a 100k-row import that
is 200k builds (the conclusions' `attributes` and `matched`, the seal's row states). The text is the
standard encoder's, byte for byte (tests compare them on arbitrary values), so a digest over text
written before still matches."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


class _Encode:
    """The C encoder as a callable object, not a closure: psycopg caches a JSON dumper per dumps
    function and warns ("may cause a resource leak") for every connection given a closure."""

    __slots__ = ("_encode", "_strings")

    def __init__(self, encode: Callable[[Any, int], Any], strings: Callable[[str], str]):
        self._encode, self._strings = encode, strings

    def __call__(self, obj: Any) -> str:
        if isinstance(obj, str):  # as JSONEncoder.encode: a bare string is not a container
            return self._strings(obj)
        return "".join(self._encode(obj, 0))


def encoder(ensure_ascii: bool = True, separators: tuple[str, str] = (", ", ": "),
            default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """`json.JSONEncoder(ensure_ascii=..., separators=..., default=...).encode`, built once: no sorted
    keys, no check for circular structures (nothing stored is circular)."""
    default = default or json.JSONEncoder().default
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return json.JSONEncoder(ensure_ascii=ensure_ascii, separators=separators, default=default).encode
    strings = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    item_sep, key_sep = separators
    return _Encode(make(None, default, strings, None, key_sep, item_sep, False, False, True), strings)


dumps = encoder()  # json.dumps(obj), as SQLAlchemy's JSON columns store it
