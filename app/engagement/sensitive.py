"""The sensitive-word filter for comments: one Aho-Corasick automaton over a word list in data/.

A comment that hits is not refused: it is stored ``pending`` for a moderator (DESIGN.md
"Moderation and curation"), so a false positive costs a moderator one glance, never a lost comment.

Matching runs on a normalised form of the text, and each word is normalised the same way:

- NFKC: full-width letters and digits become half-width (``ＶＸ`` → ``VX``), compatibility
  forms fold to their plain letters;
- case folded (``VX`` → ``vx``);
- every character that is not a letter, a digit or a combining mark is dropped: whitespace,
  punctuation, symbols, emoji and invisible format characters (zero-width spaces) between the
  characters of a word no longer hide it (``刷 票``, ``刷-票``, ``刷​票`` all read ``刷票``).

Dropping separators also joins neighbouring words, so a list word can match across a comma; the
list holds phrases that only spam uses, which keeps that rare, and a rare hit only means review.

The automaton is built once per process and word-list file, and rebuilt when the file changes
(checked with one ``stat`` per comment) or on ``reload()``.
"""

from __future__ import annotations

import logging
import os
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import ahocorasick
from flask import current_app

log = logging.getLogger(__name__)

# Shorter words (after normalisation) are ignored: one character flags far too much.
MIN_WORD_LENGTH = 2

_KEPT_CATEGORIES = ("L", "N", "M")  # letters, numbers, marks


def normalise(text: str) -> str:
    """The form both words and comments are matched in (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in _KEPT_CATEGORIES)


def read_words(path: Path) -> list[str]:
    """The normalised, distinct words of a list file: one per line, ``#`` comments."""
    words: dict[str, None] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word = normalise(line)
        if len(word) < MIN_WORD_LENGTH:
            log.warning("%s:%d: %r is shorter than %d characters once normalised; ignored",
                        path, number, line, MIN_WORD_LENGTH)  # fmt: skip
            continue
        words[word] = None
    return list(words)


@dataclass(frozen=True)
class Matcher:
    """An automaton over normalised words; ``find`` reports the words a text contains."""

    automaton: ahocorasick.Automaton | None
    size: int

    @classmethod
    def build(cls, words: list[str]) -> Matcher:
        if not words:
            return cls(None, 0)
        automaton = ahocorasick.Automaton()
        for word in words:
            automaton.add_word(word, word)
        automaton.make_automaton()
        return cls(automaton, len(words))

    def find(self, text: str) -> list[str]:
        """The distinct list words found in ``text``, in order of first appearance."""
        if self.automaton is None or not text:
            return []
        hits: dict[str, None] = {}
        for _end, word in self.automaton.iter(normalise(text)):
            hits[word] = None
        return list(hits)


# One matcher per word-list file, with the file's (mtime, size) when it was read.
_cache: dict[Path, tuple[tuple[int, int], Matcher]] = {}
_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


def words_path() -> Path:
    return Path(current_app.config["SENSITIVE_WORDS_FILE"])


def matcher(path: Path | None = None) -> Matcher:
    """The matcher for ``path`` (default: the configured list), rebuilt if the file changed."""
    path = path or words_path()
    stamp = _stamp(path)
    cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        built = Matcher.build(read_words(path))
        _cache[path] = (stamp, built)
        log.info("sensitive-word matcher built from %s: %d words", path, built.size)
        return built


def reload(path: Path | None = None) -> Matcher:
    """Forget the cached matcher and build it again from the file."""
    path = path or words_path()
    with _lock:
        _cache.pop(path, None)
    return matcher(path)


def find_sensitive(text: str) -> list[str]:
    """The list words ``text`` contains (normalised), empty when it is clean."""
    return matcher().find(text)
