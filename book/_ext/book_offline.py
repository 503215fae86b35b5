"""Local Sphinx extension for the book (loaded through _config.yml's sphinx.local_extensions).

sphinx-thebe 0.3.1 under Sphinx 7.4 adds its inline configuration script twice to every page
(`const THEBE_JS_URL = ...` declared twice is a SyntaxError in the browser console), once with
filename None and once with "" (and sphinx-togglebutton and DOCUMENTATION_OPTIONS likewise). This drops
exact duplicate <script> entries from each page, keeping the first.

The book has two editions, English (html/) and Chinese (html/zh/). book/build.py sets
``book_edition_switch`` for each: every page whose counterpart exists gets a link to it at its top,
and a <link rel="alternate" hreflang> for search engines.
"""
import html



def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for js in context.get("script_files", []):
        attrs = getattr(js, "attributes", {}) or {}
        key = (str(getattr(js, "filename", js) or ""), attrs.get("body"), attrs.get("src"))
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    if "script_files" in context:
        context["script_files"][:] = kept


def _edition_switch(app, pagename, templatename, context, doctree):
    switch = app.config.book_edition_switch
    if not switch or pagename not in switch["pages"] or "body" not in context:
        return
    href = "../" * pagename.count("/") + switch["href_root"] + pagename + ".html"
    language = "zh-CN" if switch["label"] == "中文" else "en"
    link = (f'<p class="book-edition-switch" lang="{language}"><a href="{html.escape(href)}" '
            f'hreflang="{language}">{html.escape(switch["label"])}</a></p>\n')
    context["body"] = link + context["body"]
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{language}" href="{html.escape(href)}" />')


def setup(app):
    app.add_config_value("book_edition_switch", None, "html")
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _edition_switch)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def jupyter_slug(title: str) -> str:
    """A heading's anchor as Jupyter writes it (spaces become '-', case kept), so a link such as
    [the shortcut](03_residual_block.ipynb#The-shortcut) works both in Jupyter and in the book."""
    return title.strip().replace(" ", "-")
