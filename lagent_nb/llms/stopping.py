"""Client-side stop words.

Servers differ in whether they honour ``stop`` (and whether the stop word itself is returned), so
every backend also cuts its output here. Streaming needs one more care: a stop word may arrive
split over two chunks, so the tail that could still become a stop word is held back until the
next chunk decides.
"""

from __future__ import annotations

from collections.abc import Sequence

from lagent_nb.utils import filter_suffix


def normalize_stop_words(stop_words: str | Sequence[str] | None) -> list[str] | None:
    """A single stop word becomes a one-item list; empty strings are dropped."""
    if stop_words is None:
        return None
    if isinstance(stop_words, str):
        stop_words = [stop_words]
    return [word for word in stop_words if word]


def cut_at_stop_words(text: str, stop_words: Sequence[str] | None) -> str:
    """Return ``text`` cut at the stop words (lagent's ``filter_suffix`` rule)."""
    return filter_suffix(text, list(stop_words)) if stop_words else text


def split_stream_text(
    text: str, stop_words: Sequence[str] | None, *, final: bool = False
) -> tuple[str, bool]:
    """Decide what of a cumulative streamed ``text`` may be shown.

    Returns ``(visible, stopped)``: ``stopped`` is true once a stop word occurred, and
    ``visible`` is the text cut before it. While not stopped and not ``final``, a tail that is
    a proper prefix of some stop word is withheld, so the caller never shows text it must
    later take back.
    """
    if not stop_words:
        return text, False
    if any(word in text for word in stop_words):
        return cut_at_stop_words(text, stop_words), True
    if final:
        return text, False
    held = 0
    for word in stop_words:
        for size in range(min(len(word) - 1, len(text)), held, -1):
            if text.endswith(word[:size]):
                held = size
                break
    return text[: len(text) - held], False


class StreamText:
    """Cumulative streamed text with stop words applied, for any streaming backend.

    Feed it deltas (``feed``) or whole cumulative texts (``replace``); each returns the new
    visible text when it grew, else None. ``stopped`` turns true at the first stop word, and
    ``final()`` is the complete answer once the stream is over.
    """

    def __init__(self, stop_words: Sequence[str] | None):
        self.stop_words = stop_words
        self.raw = ""
        self.shown = ""
        self.stopped = False

    def feed(self, delta: str) -> str | None:
        return self.replace(self.raw + delta)

    def replace(self, cumulative: str) -> str | None:
        self.raw = cumulative
        visible, self.stopped = split_stream_text(cumulative, self.stop_words)
        if visible == self.shown:
            return None
        self.shown = visible
        return visible

    def final(self) -> str:
        self.shown, _ = split_stream_text(self.raw, self.stop_words, final=True)
        return self.shown
