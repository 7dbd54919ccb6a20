"""Product descriptions: Markdown rendered to HTML that cannot run anything on the storefront."""

import pytest

from app.blueprints.catalog.rendering import markdown_summary, markdown_to_safe_html


def test_markdown_becomes_html():
    html = markdown_to_safe_html("**Waxed** cotton.\n\n- light\n- warm\n\n[Care](https://example.org/care)")
    assert "<strong>Waxed</strong>" in html
    assert "<ul>\n<li>light</li>" in html
    assert '<a href="https://example.org/care" rel="noopener noreferrer nofollow">Care</a>' in html


def test_headings_start_below_the_product_name():
    assert markdown_to_safe_html("# Care\n\n###### Small") == "<h2>Care</h2>\n<h6>Small</h6>\n"


def test_specification_tables_are_kept():
    html = markdown_to_safe_html("| Size | Chest |\n| --- | --- |\n| M | 100 cm |")
    assert "<table>" in html and "<td>100 cm</td>" in html


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "Hi <img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=https://evil.example></iframe>",
        "<style>body{display:none}</style>",
    ],
)
def test_raw_html_is_shown_as_text_never_run(source):
    html = markdown_to_safe_html(source)
    assert "<script" not in html and "<img" not in html and "<iframe" not in html and "<style" not in html
    assert "<a " not in html
    assert "&lt;" in html  # shown, escaped


@pytest.mark.parametrize(
    "source",
    [
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "[click](vbscript:msgbox)",
        "![pic](javascript:alert(1))",
    ],
)
def test_links_and_images_only_go_to_web_and_mail_addresses(source):
    html = markdown_to_safe_html(source)
    assert "href=" not in html and "src=" not in html


def test_images_to_web_addresses_stay_without_event_handlers():
    html = markdown_to_safe_html('![Front](https://img.example/a.jpg "Front view")')
    assert html == '<p><img src="https://img.example/a.jpg" alt="Front" title="Front view"></p>\n'


def test_empty_descriptions_render_empty():
    assert markdown_to_safe_html("") == "" and markdown_to_safe_html(None) == ""
    assert markdown_summary("") == "" and markdown_summary(None) == ""


def test_summary_is_plain_text_cut_at_a_word():
    text = "**Bold** start & more. " + "Another sentence about the product. " * 10
    summary = markdown_summary(text, length=60)
    assert summary.startswith("Bold start & more. Another")
    assert len(summary) <= 60 and summary.endswith("…") and "<" not in summary
    assert markdown_summary("Short *one*.") == "Short one."
