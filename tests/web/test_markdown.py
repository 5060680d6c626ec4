"""Model output shown as HTML: Markdown kept, anything that could run or leak removed."""

from __future__ import annotations

from web.markdown import render_markdown


def test_markdown_formatting_is_kept() -> None:
    html = render_markdown("**Due** in *45 days*:\n\n- invoices\n- `interest`")
    assert "<strong>Due</strong>" in html and "<em>45 days</em>" in html
    assert "<li>invoices</li>" in html and "<code>interest</code>" in html


def test_raw_html_from_the_model_shows_as_text_and_never_runs() -> None:
    html = render_markdown('Hi <script>alert("x")</script> <b onclick="x()">bold</b>')
    assert "<script" not in html and "<b" not in html
    assert "&lt;script&gt;" in html


def test_links_and_remote_images_from_the_model_stay_inert_text() -> None:
    html = render_markdown("[click](javascript:alert(1)) ![pixel](https://tracker.example/p.png)"
                           " <https://attacker.example/x> [ref]\n\n[ref]: https://a.example")
    assert "<a" not in html and "href" not in html and "<img" not in html and "src" not in html
    assert "tracker.example/p.png" in html and "attacker.example/x" in html  # readable text


def test_web_links_the_model_writes_are_shown_not_linked() -> None:
    """A model that read a planted instruction can write any URL: the reader sees it, nothing
    follows or loads it."""
    html = render_markdown("See [the docs](https://example.org/a?code=7731).",
                           {1: "/passage/abc?n=1"})
    assert "href" not in html and "https://example.org/a?code=7731" in html


def test_citations_inside_code_stay_code() -> None:
    html = render_markdown("Use `list[1]` here [1].\n\n```\nx = y[1]\n```",
                           {1: "/passage/abc?n=1"})
    assert "<code>list[1]</code>" in html and "x = y[1]" in html
    assert html.count('class="cite"') == 1


def test_citation_markers_become_links_to_their_passages() -> None:
    html = render_markdown("The warranty is 24 months [1], claims within 30 days [2] [9].",
                           {1: "/passage/abc?first=0&last=0&page=2&n=1", 2: "/passage/def?n=2"})
    assert '<a class="cite" data-n="1" href="/passage/abc?first=0&amp;last=0&amp;page=2&amp;n=1"' \
        in html
    assert 'href="/passage/def?n=2"' in html
    assert "[9]" in html and 'data-n="9"' not in html  # no such source: left as written


def test_russian_text_survives_rendering() -> None:
    assert "Гарантийный срок — <strong>12 месяцев</strong>" in render_markdown(
        "Гарантийный срок — **12 месяцев**")
