"""Client-side stop words, including stop words split across streamed chunks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lagent_nb.llms.stopping import cut_at_stop_words, normalize_stop_words, split_stream_text


def test_normalize():
    assert normalize_stop_words("<x>") == ["<x>"]
    assert normalize_stop_words(["a", ""]) == ["a"]
    assert normalize_stop_words(None) is None


def test_cut_uses_the_earliest_stop_word():
    assert cut_at_stop_words("ab<2>cd<1>", ["<1>", "<2>"]) == "ab"
    assert cut_at_stop_words("plain", None) == "plain"


def test_stream_holds_back_a_possible_stop_word_prefix():
    assert split_stream_text("hello <|im", ["<|im_end|>"]) == ("hello ", False)
    assert split_stream_text("hello <|im", ["<|im_end|>"], final=True) == ("hello <|im", False)
    assert split_stream_text("hello <|im_end|> tail", ["<|im_end|>"]) == ("hello ", True)
    assert split_stream_text("a<b", ["<c>", "<bb"]) == ("a", False)


@given(st.text(alphabet="ab<>", max_size=30), st.lists(st.text("ab<>", min_size=1, max_size=3)))
def test_streamed_text_only_grows_and_never_shows_a_stop_word(text, stops):
    shown, stopped, end = "", False, 0
    for end in range(len(text) + 1):
        visible, stopped = split_stream_text(text[:end], stops)
        assert visible.startswith(shown)
        assert not any(word in visible for word in stops)
        shown = visible
        if stopped:
            break
    if stopped:
        assert shown == cut_at_stop_words(text[:end], stops)
    else:
        assert split_stream_text(text, stops, final=True) == (text, False)
        assert text.startswith(shown)


def test_stream_text_feed_and_replace():
    from lagent_nb.llms.stopping import StreamText

    text = StreamText(["<end>"])
    assert text.feed("ab") == "ab"
    assert text.feed("<e") is None  # held back: may become a stop word
    assert text.feed("x") == "ab<ex"
    assert text.replace("ab<ex yz<end>more") == "ab<ex yz"
    assert text.stopped and text.final() == "ab<ex yz"
    plain = StreamText(None)
    assert plain.replace("abc") == "abc" and plain.replace("abc") is None
    assert plain.final() == "abc" and not plain.stopped
