"""Reading pages as a crawler does: a page's strings (each text node and attribute value, whole)
and where it leads (links, htmx GETs, GET forms submitted with their default values), and the
shape of a path (its ids replaced), by which a crawl bounds how many pages of one kind it opens.
The one HTML reader of the tests: the blinding crawls (tests/e2e/test_web_crawl.py,
tests/helpers/arm_words_demo.py) and every test that scans a page's strings (``page_strings``)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit


class PageReader(HTMLParser):
    """A page's strings (each text node and attribute value, whole) and where it leads: links,
    htmx GETs, and GET forms submitted with their default values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.strings: list[str] = []
        self.links: list[str] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.strings += [v.strip() for _, v in attrs if v and v.strip()]
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if a.get("hx-get"):
            self.links.append(a["hx-get"] + "#hx")
        if tag == "form" and (a.get("method") or "get").lower() == "get":
            self._form = {"action": a.get("action") or "", "fields": {}}
        if self._form is not None and tag in ("input", "select") and a.get("name"):
            self._form["fields"].setdefault(a["name"], a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form" and self._form is not None:
            self.links.append(self._form["action"] + "?" + urlencode(self._form["fields"]))
            self._form = None

    def handle_data(self, data):
        if data.strip():
            self.strings.append(data.strip())


def page_strings(html: str) -> list[str]:
    """Each text node and attribute value of ``html``, whole and stripped, in page order."""
    page = PageReader()
    page.feed(html)
    return page.strings


def path_shape(path: str) -> str:
    parts = urlsplit(path)
    segs = ["{id}" if len(s) >= 16 or s.isdigit() else s for s in parts.path.split("/")]
    return "/".join(segs) + (
        "?" + "&".join(sorted(k.split("=")[0] for k in parts.query.split("&"))) if parts.query else ""
    )
