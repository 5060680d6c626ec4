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


def test_dangerous_links_and_remote_images_are_removed() -> None:
    html = render_markdown("[click](javascript:alert(1)) ![pixel](https://tracker.example/p.png)")
    assert "<a" not in html and "href" not in html  # the link stays inert text
    assert "<img" not in html and "tracker.example" not in html


def test_web_links_are_kept_and_open_safely() -> None:
    html = render_markdown("[docs](https://example.org/a)")
    assert 'href="https://example.org/a"' in html and 'rel="noopener noreferrer"' in html


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
