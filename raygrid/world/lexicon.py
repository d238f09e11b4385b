"""The concepts of the world and their words in each language.

Every language of the world names the same concepts (nouns, verbs,
adjectives in antonym pairs, places, function words). English uses real
English words; every other language gets a lexicon written in its real
script, generated from a seed:

* a *cognate* share of the content words is the English word carried over
  into the language's spelling (kept as is in Latin-script languages with
  light respelling, transliterated in the others: ``doctor`` -> ``доктор``,
  ``ドクトル``), the rest are fresh pseudo-words built from the language's
  own syllables;
* every content concept has two synonyms per language (the second one is
  always a fresh word), which paraphrase and entailment pairs exploit.

Only :mod:`random` and the standard library are used: generation is
deterministic for a given seed on every platform.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# -- concepts ------------------------------------------------------------------------

#: Nouns (agents and patients of events). English plural-free forms.
NOUNS: tuple[str, ...] = (
    "doctor", "teacher", "farmer", "pilot", "student", "singer", "driver", "baker",
    "lawyer", "nurse", "painter", "soldier", "dog", "cat", "horse", "bird",
    "tiger", "lion", "camel", "monkey", "robot", "child", "mother", "father",
)  # fmt: skip

#: Transitive verbs as (third person singular, base form).
VERBS: tuple[tuple[str, str], ...] = (
    ("sees", "see"), ("helps", "help"), ("follows", "follow"), ("calls", "call"),
    ("visits", "visit"), ("paints", "paint"), ("pushes", "push"), ("finds", "find"),
    ("greets", "greet"), ("teaches", "teach"), ("protects", "protect"), ("loves", "love"),
)  # fmt: skip

#: Adjectives in antonym pairs (a noun described by one is not described by the other).
ANTONYMS: tuple[tuple[str, str], ...] = (
    ("big", "small"), ("old", "young"), ("happy", "sad"), ("fast", "slow"),
    ("rich", "poor"), ("tall", "short"), ("strong", "weak"), ("loud", "quiet"),
)  # fmt: skip
ADJECTIVES: tuple[str, ...] = tuple(a for pair in ANTONYMS for a in pair)

#: Places (the object of a locative phrase).
PLACES: tuple[str, ...] = ("park", "city", "garden", "market", "school", "village", "forest", "station")

#: Function words, by role (never synonyms, never cognates: every language has its own).
FUNCTION_WORDS: tuple[str, ...] = ("the", "not", "in", "who", "whom", "where", "does")


# -- scripts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Phonology:
    """How a language's fresh words are spelled: syllables in its script."""

    onsets: tuple[str, ...]
    vowels: tuple[str, ...]
    codas: tuple[str, ...] = ("",)
    syllables: tuple[int, int] = (2, 3)  # min, max syllables per word
    joiner: str = ""


def _chars(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_LATIN_DE = Phonology(_chars("b d f g h k l m n p r s t w z sch st br gr kl tr"), _chars("a e i o u ä ö ü ei au"), _chars("n r l s t ch") + ("",) * 4)
_LATIN_SW = Phonology(_chars("b d f g h j k l m n p s t w y z ch sh nd mb ng"), _chars("a e i o u"), ("",), (2, 3))
_CYRILLIC = Phonology(_chars("б в г д ж з к л м н п р с т ф х ц ч ш щ"), _chars("а е и о у ы я ю э"), _chars("н р л с т й") + ("",) * 4)
# Arabic is written without short vowels: consonant + long vowel letter or nothing.
_ARABIC = Phonology(_chars("ب ت ث ج ح خ د ذ ر ز س ش ص ط ع غ ف ق ك ل م ن ه"), ("ا", "و", "ي", "", "", ""), ("",), (2, 3))
# Devanagari: consonant + vowel sign (matra), or the inherent vowel.
_DEVANAGARI = Phonology(_chars("क ख ग घ च छ ज झ ट ड त थ द ध न प फ ब भ म य र ल व स ह"), ("", "ा", "ि", "ी", "ु", "ू", "े", "ो"), ("",), (2, 3))
# Han: a word is one or two characters from a fixed set of common ones.
_HAN_CHARS = _chars(
    "山 水 火 木 金 土 日 月 天 风 云 雨 花 草 石 田 心 手 口 目 耳 马 牛 羊 鸟 鱼 龙 虎 米 竹 门 车 "
    "书 刀 力 工 王 玉 白 黑 红 青 黄 长 高 明 安 平 光 文 字 方 东 西 南 北 春 夏 秋 冬"
)
_KANJI_CHARS = _chars("森 海 空 星 村 町 橋 駅 園 市 犬 猫 狼 熊 桜 梅 松 雪 霧 波 岩 島 丘 谷 畑 糸 貝 羽 角 声")
_KATAKANA = _chars(
    "ア イ ウ エ オ カ キ ク ケ コ サ シ ス セ ソ タ チ ツ テ ト ナ ニ ヌ ネ ノ ハ ヒ フ ヘ ホ マ ミ ム メ モ ラ リ ル レ ロ"
)


@dataclass(frozen=True)
class Profile:
    """One language of the world: its script, word order and morphology.

    Attributes:
        code: the ISO 639-1 code (the catalogue's language code).
        script: the script its words are written in (for documentation).
        order: the order of subject, verb and object (``SVO``, ``SOV``, ``VSO``).
        adjective_after: adjectives follow the noun (Arabic, Swahili).
        spaced: words are separated by spaces (not in Chinese and Japanese).
        phonology: how fresh words are spelled.
        period, question: sentence-final punctuation.
    """

    code: str
    script: str
    order: str
    adjective_after: bool
    spaced: bool
    phonology: Phonology | None
    period: str = "."
    question: str = "?"


PROFILES: Mapping[str, Profile] = {
    "en": Profile("en", "Latin", "SVO", False, True, None),
    "de": Profile("de", "Latin", "SVO", False, True, _LATIN_DE),
    "sw": Profile("sw", "Latin", "SVO", True, True, _LATIN_SW),
    "ru": Profile("ru", "Cyrillic", "SVO", False, True, _CYRILLIC),
    "ar": Profile("ar", "Arabic", "VSO", True, True, _ARABIC, period=".", question="؟"),
    "hi": Profile("hi", "Devanagari", "SOV", False, True, _DEVANAGARI, period="।"),
    "zh": Profile("zh", "Han", "SVO", False, False, None, period="。", question="？"),
    "ja": Profile("ja", "Japanese", "SOV", False, False, None, period="。", question="？"),
}

#: The world's languages: English first, then the others.
LANGUAGES: tuple[str, ...] = tuple(PROFILES)

# Function words per language, written in the language's script. ``the`` is
# the empty string where the language has no article; the case markers of
# the SOV languages follow the noun phrase.
FUNCTION: Mapping[str, Mapping[str, str]] = {
    "en": {"the": "the", "not": "not", "in": "in", "who": "who", "whom": "whom", "where": "where",
           "does": "does", "subj": "", "obj": ""},
    "de": {"the": "der", "not": "nicht", "in": "in", "who": "wer", "whom": "wen", "where": "wo",
           "does": "", "subj": "", "obj": ""},
    "sw": {"the": "", "not": "hapana", "in": "katika", "who": "nani", "whom": "nani", "where": "wapi",
           "does": "", "subj": "", "obj": ""},
    "ru": {"the": "", "not": "не", "in": "в", "who": "кто", "whom": "кого", "where": "где",
           "does": "", "subj": "", "obj": ""},
    "ar": {"the": "ال", "not": "لا", "in": "في", "who": "من", "whom": "من", "where": "أين",
           "does": "", "subj": "", "obj": ""},
    "hi": {"the": "", "not": "नहीं", "in": "में", "who": "कौन", "whom": "किस", "where": "कहाँ",
           "does": "", "subj": "ने", "obj": "को"},
    "zh": {"the": "", "not": "不", "in": "在", "who": "谁", "whom": "谁", "where": "哪里",
           "does": "", "subj": "", "obj": ""},
    "ja": {"the": "", "not": "ない", "in": "で", "who": "誰", "whom": "誰", "where": "どこ",
           "does": "", "subj": "が", "obj": "を"},
}  # fmt: skip


# -- cognates: English words respelled in each script ----------------------------------

_SYLLABLE = re.compile(r"[^aeiouy]*[aeiouy]*")
_CYRILLIC_MAP = dict(zip("abcdefghijklmnopqrstuvwxyz", "абкдефгхийклмнопкрстувшксз"))
_ARABIC_MAP = dict(zip("bcdfghjklmnpqrstvwxz", "بكدفغهجكلمنبقرستفوكز"))
_ARABIC_VOWEL = {"a": "ا", "o": "و", "u": "و", "i": "ي", "e": "ي", "y": "ي"}
_DEVA_CONS = dict(zip("bcdfghjklmnpqrstvwxz", "बकदफगहजकलमनपकरसटववक्सज"))
_DEVA_VOWEL = {"a": "ा", "e": "े", "i": "ि", "o": "ो", "u": "ु", "y": "ी", "": ""}
_DEVA_INITIAL_VOWEL = {"a": "अ", "e": "ए", "i": "इ", "o": "ओ", "u": "उ", "y": "ई"}
_KATA_ROWS = {
    "": "アイウエオ", "k": "カキクケコ", "c": "カキクケコ", "g": "ガギグゲゴ", "s": "サシスセソ", "z": "ザジズゼゾ",
    "t": "タチツテト", "d": "ダヂヅデド", "n": "ナニヌネノ", "h": "ハヒフヘホ", "f": "ハヒフヘホ",
    "b": "バビブベボ", "p": "パピプペポ", "m": "マミムメモ", "r": "ラリルレロ", "l": "ラリルレロ",
    "w": "ワイウエヲ", "v": "バビブベボ", "j": "ジジジジジ", "y": "ヤイユエヨ", "q": "カキクケコ", "x": "クシスセソ",
}  # fmt: skip
_KATA_VOWEL_INDEX = {"a": 0, "i": 1, "u": 2, "e": 3, "o": 4, "y": 1, "": 2}


def _syllables(word: str) -> list[tuple[str, str]]:
    """``"doctor"`` -> ``[("d", "o"), ("ct", "o"), ("r", "")]`` (onset, vowel)."""
    out = []
    for chunk in _SYLLABLE.findall(word):
        if not chunk:
            continue
        m = re.match(r"([^aeiouy]*)([aeiouy]*)", chunk)
        assert m is not None
        out.append((m.group(1), m.group(2)))
    return out


def _respell(word: str, code: str) -> str:
    """The cognate of English ``word`` in language ``code``."""
    if code == "de":
        return word.replace("c", "k").replace("w", "w").replace("y", "i")
    if code == "sw":
        stem = word.replace("c", "k").replace("x", "ks").replace("q", "k").replace("y", "i")
        return stem if stem[-1] in "aeiou" else stem + "i"
    if code == "ru":
        return "".join(_CYRILLIC_MAP.get(c, c) for c in word)
    if code == "ar":
        out = []
        for i, c in enumerate(word):
            if c in _ARABIC_MAP:
                out.append(_ARABIC_MAP[c])
            elif c in _ARABIC_VOWEL and (i == 0 or c in "aou") and (not out or out[-1] not in "اوي"):
                out.append(_ARABIC_VOWEL[c])
        return "".join(out)
    if code == "hi":
        out = []
        for onset, vowel in _syllables(word):
            v = vowel[:1]
            if not onset:
                out.append(_DEVA_INITIAL_VOWEL.get(v, "अ"))
                continue
            cons = [_DEVA_CONS.get(c, "क") for c in onset]
            out.append("".join(cons[:-1]) + cons[-1] + _DEVA_VOWEL.get(v, ""))
        return "".join(out)
    if code == "ja":
        out = []
        for onset, vowel in _syllables(word):
            for c in onset[:-1]:
                out.append(_KATA_ROWS.get(c, _KATA_ROWS["k"])[2])
            row = _KATA_ROWS.get(onset[-1] if onset else "", _KATA_ROWS["k"])
            out.append(row[_KATA_VOWEL_INDEX.get(vowel[:1], 2)])
        return "".join(out)
    if code == "zh":
        # phonetic loans: one Han character per syllable, by its sound
        out = []
        for onset, vowel in _syllables(word):
            key = (onset[-1:] or "-") + (vowel[:1] or "-")
            out.append(_HAN_CHARS[sum(ord(c) for c in key) * 7 % len(_HAN_CHARS)])
        return "".join(out)
    return word


# -- fresh words ---------------------------------------------------------------------


def _fresh(code: str, rng: random.Random, kind: str) -> str:
    """A new word of language ``code`` for a concept of ``kind``."""
    profile = PROFILES[code]
    if code == "zh":
        return "".join(rng.choice(_HAN_CHARS) for _ in range(rng.choice((1, 2, 2))))
    if code == "ja":
        if kind == "verb":
            return rng.choice(_KANJI_CHARS) + rng.choice(("る", "う", "く", "す", "む"))
        if kind == "adjective":
            return rng.choice(_KANJI_CHARS) + rng.choice(("い", "しい"))
        if rng.random() < 0.5:
            return "".join(rng.choice(_KATAKANA) for _ in range(rng.randint(2, 4)))
        return "".join(rng.choice(_KANJI_CHARS) for _ in range(rng.choice((1, 2))))
    ph = profile.phonology
    assert ph is not None, code
    n = rng.randint(*ph.syllables)
    parts = []
    for i in range(n):
        parts.append(rng.choice(ph.onsets) + rng.choice(ph.vowels))
        if i == n - 1:
            parts.append(rng.choice(ph.codas))
    return ph.joiner.join(parts)


@dataclass(frozen=True)
class Lexicon:
    """The words of one language: concept -> its synonyms (first is the usual one).

    Verbs map to (finite form,); English verbs also keep their base form
    (``does not see``) in :attr:`base`.
    """

    code: str
    words: Mapping[str, tuple[str, ...]]
    base: Mapping[str, str]
    cognates: frozenset[str]
    function: Mapping[str, str] = field(default_factory=dict)  # overrides of FUNCTION[code] (code-switching)

    def functions(self) -> Mapping[str, str]:
        """The function words this lexicon writes (its language's, with any switched ones)."""
        return {**FUNCTION[self.code], **self.function}

    def word(self, concept: str, variant: int = 0) -> str:
        forms = self.words[concept]
        return forms[variant % len(forms)]


def content_concepts() -> list[tuple[str, str]]:
    """(concept, kind) for every content word; a verb's concept is its finite English form."""
    return (
        [(n, "noun") for n in NOUNS]
        + [(v, "verb") for v, _ in VERBS]
        + [(a, "adjective") for a in ADJECTIVES]
        + [(p, "noun") for p in PLACES]
    )


def build_lexicon(code: str, seed: int, cognate_share: float) -> Lexicon:
    """The lexicon of language ``code``: deterministic for (code, seed, cognate_share)."""
    rng = random.Random(f"lexicon:{code}:{seed}")
    words: dict[str, tuple[str, ...]] = {}
    base: dict[str, str] = {}
    cognates: set[str] = set()
    used: set[str] = set(FUNCTION[code].values())
    en_synonyms = _english_synonyms()

    def unique(make: Sequence[str] | None, kind: str) -> str:
        for candidate in make or ():
            if candidate and candidate not in used:
                used.add(candidate)
                return candidate
        while True:
            w = _fresh(code, rng, kind)
            if w not in used and len(w) >= 2 or (code in ("zh", "ja") and w and w not in used):
                used.add(w)
                return w

    for concept, kind in content_concepts():
        if code == "en":
            first = unique([concept], kind)
            second = unique([en_synonyms[concept]], kind)
        else:
            is_cognate = rng.random() < cognate_share
            first = unique([_respell(concept, code)] if is_cognate else None, kind)
            if is_cognate:
                cognates.add(concept)
            second = unique(None, kind)
        words[concept] = (first, second)
    for finite, base_form in VERBS:
        if code == "en":
            base[finite] = base_form
            base[en_synonyms[finite]] = en_synonyms[finite][:-1]
    return Lexicon(code=code, words=words, base=base, cognates=frozenset(cognates))


def _english_synonyms() -> dict[str, str]:
    """A second English word per content concept (real synonyms where natural)."""
    real = {
        "doctor": "physician", "teacher": "tutor", "farmer": "grower", "pilot": "aviator", "student": "pupil",
        "singer": "vocalist", "driver": "chauffeur", "baker": "confectioner", "lawyer": "attorney",
        "nurse": "caregiver", "painter": "artist", "soldier": "warrior", "dog": "hound", "cat": "kitty",
        "horse": "steed", "bird": "fowl", "tiger": "tigress", "lion": "lioness", "camel": "dromedary",
        "monkey": "ape", "robot": "android", "child": "kid", "mother": "mom", "father": "dad",
        "sees": "notices", "helps": "assists", "follows": "trails", "calls": "phones", "visits": "meets",
        "paints": "draws", "pushes": "shoves", "finds": "discovers", "greets": "salutes",
        "teaches": "instructs", "protects": "guards", "loves": "adores",
        "big": "large", "small": "little", "old": "elderly", "young": "youthful", "happy": "glad",
        "sad": "unhappy", "fast": "quick", "slow": "sluggish", "rich": "wealthy", "poor": "needy",
        "tall": "lofty", "short": "low", "strong": "powerful", "weak": "feeble", "loud": "noisy",
        "quiet": "silent", "park": "meadow", "city": "town", "garden": "yard", "market": "bazaar",
        "school": "academy", "village": "hamlet", "forest": "woods", "station": "depot",
    }  # fmt: skip
    return real


__all__ = [
    "ADJECTIVES",
    "ANTONYMS",
    "FUNCTION",
    "LANGUAGES",
    "NOUNS",
    "PLACES",
    "PROFILES",
    "VERBS",
    "Lexicon",
    "Profile",
    "build_lexicon",
]
