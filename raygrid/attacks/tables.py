"""Static tables: keyboard layouts, homoglyphs, invisible characters, marks.

Keyboard layouts (letter rows only, unshifted): neighbours are the keys
next to a key on a staggered keyboard (same row +-1, the two touching keys
of the rows above and below). Layouts are given only where we know them:

=============  ==========================================================
``qwerty``     en es it pt nl id ms sw tl jv af fi et eu tr vi yo
``qwertz``     de hu
``azerty``     fr
``jcuken``     ru kk (ЙЦУКЕН; Kazakh's extra letters fall back)
``arabic``     ar (the standard Arabic 101 layout)
``inscript``   hi mr (Devanagari InScript, consonant and vowel-sign keys)
=============  ==========================================================

Every other language (and every letter not on its layout: ß, accented
letters, Kazakh ә) gets a random letter of the same script instead: the
fallback is documented, never a Latin key.

Homoglyphs follow Unicode's confusables (UTS #39 ``confusables.txt``) for
the pairs that render identically or nearly so in common fonts:
Latin <-> Cyrillic <-> Greek, Arabic in-script letter variants (Persian yeh /
alef maksura / Arabic yeh, Arabic heh / ae, kaf / keheh), and Han <-> Katakana
look-alikes used in Chinese and Japanese text (口/ロ, 工/エ, 力/カ, ...).
Scripts without a table are refused by the homoglyph attack.
"""

from __future__ import annotations

from types import MappingProxyType

_LAYOUT_ROWS: dict[str, tuple[str, str, str]] = {
    "qwerty": ("qwertyuiop", "asdfghjkl", "zxcvbnm"),
    "qwertz": ("qwertzuiopü", "asdfghjklöä", "yxcvbnm"),
    "azerty": ("azertyuiop", "qsdfghjklm", "wxcvbn"),
    "jcuken": ("йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю"),
    "arabic": ("ضصثقفغعهخحجد", "شسيبلاتنمكط", "ئءؤر\x00ىةوزظ"),  # \x00: the lam-alef key
    # InScript: vowel signs and consonants on the Q/A/Z rows.
    "inscript": ("ौैाीूबहगदजड", "ोे्िुपरकतचट", "ॆंमनवलस"),
}
_ROW_OFFSETS = (0.0, 0.25, 0.75)

#: Language -> keyboard layout name (see the module docstring).
LANGUAGE_LAYOUTS = MappingProxyType(
    {
        **{code: "qwerty" for code in "en es it pt nl id ms sw tl jv af fi et eu tr vi yo".split()},
        "de": "qwertz",
        "hu": "qwertz",
        "fr": "azerty",
        "ru": "jcuken",
        "kk": "jcuken",
        "ar": "arabic",
        "hi": "inscript",
        "mr": "inscript",
    }
)


def _neighbours(rows: tuple[str, str, str]) -> dict[str, str]:
    positions = {
        key: (r, c + _ROW_OFFSETS[r]) for r, row in enumerate(rows) for c, key in enumerate(row) if key != "\x00"
    }
    out: dict[str, str] = {}
    for key, (r, x) in positions.items():
        near = [
            other
            for other, (r2, x2) in positions.items()
            if other != key and abs(r2 - r) <= 1 and abs(x2 - x) <= (1.0 if r2 == r else 0.8)
        ]
        out[key] = "".join(sorted(near))
    return out


#: layout -> key -> its neighbouring keys (lower case).
KEYBOARD_NEIGHBOURS = MappingProxyType({name: MappingProxyType(_neighbours(rows)) for name, rows in _LAYOUT_ROWS.items()})

# Confusable groups: every character of a group looks like the others.
_HOMOGLYPH_GROUPS: tuple[str, ...] = (
    # Latin, Cyrillic, Greek (lower case)
    "aа", "cсϲ", "eе", "oоο", "pрρ", "xхχ", "yу", "iіι", "jј", "sѕ", "hһ", "dԁ", "qԛ", "wԝ", "vν",
    "kκ", "ӏl",
    # upper case
    "AАΑ", "BВΒ", "CСϹ", "EЕΕ", "HНΗ", "IІΙ", "JЈ", "KКΚ", "MМΜ", "NΝ", "OОΟ", "PРΡ", "SЅ", "TТΤ",
    "XХΧ", "YҮΥ", "ZΖ",
    # Arabic in-script variants (isolated/final forms coincide)
    "ىی", "هە", "كک", "يی",
    # Han <-> Katakana
    "口ロ", "工エ", "力カ", "夕タ", "二ニ", "八ハ", "卜ト", "一ー", "へヘ",
)  # fmt: skip

#: char -> the characters that look like it.
HOMOGLYPHS = MappingProxyType(
    {c: "".join(sorted(set(g) - {c})) for g in _HOMOGLYPH_GROUPS for c in g}
)

#: Scripts for which :data:`HOMOGLYPHS` has sources.
HOMOGLYPH_SCRIPTS: frozenset[str] = frozenset({"Latin", "Cyrillic", "Greek", "Arabic", "Han", "Katakana", "Hiragana"})

#: Zero-width / invisible characters (Boucher et al. 2021, "Bad Characters").
INVISIBLES: tuple[str, ...] = ("\u200b", "\u200c", "\u200d", "\u2060", "\u00ad")

# Combining marks used to *alter* diacritics, by the base script. Latin:
# the marks of European orthographies and Vietnamese/Yoruba tones.
ALTER_MARKS: MappingProxyType[str, str] = MappingProxyType(
    {
        "Latin": "\u0300\u0301\u0302\u0303\u0308\u030a\u030c\u0327\u0323",
        "Greek": "\u0301\u0308",
        "Cyrillic": "\u0306\u0308",
        "Arabic": "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652",
        "Hebrew": "\u05b0\u05b4\u05b7\u05b8\u05bc",
        "Hiragana": "\u3099\u309a",
        "Katakana": "\u3099\u309a",
    }
)

__all__ = [
    "ALTER_MARKS",
    "HOMOGLYPHS",
    "HOMOGLYPH_SCRIPTS",
    "INVISIBLES",
    "KEYBOARD_NEIGHBOURS",
    "LANGUAGE_LAYOUTS",
]
