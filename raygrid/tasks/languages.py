"""Language codes: raygrid's ISO 639-1 codes and the names hub configs use.

raygrid names every language by its ISO 639-1 code (``"de"``, ``"zh"``).
Hugging Face configs spell languages in several other ways; each table below
maps raygrid's code to one of them, and the task catalogue builds its
``HubSource.configs`` from these tables, so a language code is translated in
exactly one place.

Sources (checked against the hub dataset cards / loading scripts):

* ``XTREME_LANGUAGES``: the 40 languages of XTREME (Hu et al. 2020), the
  ``_PAN_X_LANG`` list of the ``google/xtreme`` loading script.
* ``UDPOS_CONFIG_NAMES``: ``google/xtreme`` configs ``udpos.<EnglishName>``
  (``_UD_POS_LANG`` of the loading script; 33 languages).
* ``TATOEBA_CODES``: ``google/xtreme`` configs ``tatoeba.<code>`` (LASER's
  Tatoeba file names: ISO 639-3, with ``cmn`` for Chinese, ``pes`` for Persian
  and ``swh`` for Swahili; 36 languages).
* ``TYDIQA_NAMES``: TyDi QA GoldP ids start with the language's English name
  in lower case, e.g. ``"arabic-2387335860751143628-1"``
  (``google-research-datasets/tydiqa`` dataset card).

Example:
    >>> UDPOS_CONFIG_NAMES["de"], TATOEBA_CODES["zh"], TYDIQA_NAMES["sw"]
    ('German', 'cmn', 'swahili')
"""

from __future__ import annotations

from types import MappingProxyType

#: XTREME's 40 languages (ISO 639-1).
XTREME_LANGUAGES: tuple[str, ...] = (
    "af", "ar", "bg", "bn", "de", "el", "en", "es", "et", "eu",
    "fa", "fi", "fr", "he", "hi", "hu", "id", "it", "ja", "jv",
    "ka", "kk", "ko", "ml", "mr", "ms", "my", "nl", "pt", "ru",
    "sw", "ta", "te", "th", "tl", "tr", "ur", "vi", "yo", "zh",
)  # fmt: skip

#: Scripts written without spaces between words: tagging fixtures for these
#: use short character chunks as tokens.
UNSPACED_LANGUAGES: frozenset[str] = frozenset({"ja", "my", "th", "zh"})

#: raygrid code -> ``udpos.<name>`` config suffix of ``google/xtreme``.
UDPOS_CONFIG_NAMES = MappingProxyType(
    {
        "af": "Afrikaans",
        "ar": "Arabic",
        "bg": "Bulgarian",
        "de": "German",
        "el": "Greek",
        "en": "English",
        "es": "Spanish",
        "et": "Estonian",
        "eu": "Basque",
        "fa": "Persian",
        "fi": "Finnish",
        "fr": "French",
        "he": "Hebrew",
        "hi": "Hindi",
        "hu": "Hungarian",
        "id": "Indonesian",
        "it": "Italian",
        "ja": "Japanese",
        "kk": "Kazakh",
        "ko": "Korean",
        "mr": "Marathi",
        "nl": "Dutch",
        "pt": "Portuguese",
        "ru": "Russian",
        "ta": "Tamil",
        "te": "Telugu",
        "th": "Thai",
        "tl": "Tagalog",
        "tr": "Turkish",
        "ur": "Urdu",
        "vi": "Vietnamese",
        "yo": "Yoruba",
        "zh": "Chinese",
    }
)

#: raygrid code -> ``tatoeba.<code>`` config suffix of ``google/xtreme``.
TATOEBA_CODES = MappingProxyType(
    {
        "af": "afr",
        "ar": "ara",
        "bg": "bul",
        "bn": "ben",
        "de": "deu",
        "el": "ell",
        "es": "spa",
        "et": "est",
        "eu": "eus",
        "fa": "pes",
        "fi": "fin",
        "fr": "fra",
        "he": "heb",
        "hi": "hin",
        "hu": "hun",
        "id": "ind",
        "it": "ita",
        "ja": "jpn",
        "jv": "jav",
        "ka": "kat",
        "kk": "kaz",
        "ko": "kor",
        "ml": "mal",
        "mr": "mar",
        "nl": "nld",
        "pt": "por",
        "ru": "rus",
        "sw": "swh",
        "ta": "tam",
        "te": "tel",
        "th": "tha",
        "tl": "tgl",
        "tr": "tur",
        "ur": "urd",
        "vi": "vie",
        "zh": "cmn",
    }
)

#: raygrid code -> the language name that prefixes TyDi QA GoldP ids.
TYDIQA_NAMES = MappingProxyType(
    {
        "ar": "arabic",
        "bn": "bengali",
        "en": "english",
        "fi": "finnish",
        "id": "indonesian",
        "ko": "korean",
        "ru": "russian",
        "sw": "swahili",
        "te": "telugu",
    }
)

__all__ = [
    "TATOEBA_CODES",
    "TYDIQA_NAMES",
    "UDPOS_CONFIG_NAMES",
    "UNSPACED_LANGUAGES",
    "XTREME_LANGUAGES",
]
