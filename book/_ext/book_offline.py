"""Local Sphinx extension for the book (loaded through _config.yml's sphinx.local_extensions).

sphinx-thebe 0.3.1 under Sphinx 7.4 adds its inline configuration script twice to every page
(`const THEBE_JS_URL = ...` declared twice is a SyntaxError in the browser console), once with
filename None and once with "" (and sphinx-togglebutton and DOCUMENTATION_OPTIONS likewise). This drops
exact duplicate <script> entries from each page, keeping the first.
"""


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


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def jupyter_slug(title: str) -> str:
    """A heading's anchor as Jupyter writes it (spaces become '-', case kept), so a link such as
    [the shortcut](03_residual_block.ipynb#The-shortcut) works both in Jupyter and in the book."""
    return title.strip().replace(" ", "-")
