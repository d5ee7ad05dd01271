"""
Rich text: the HTML editors write in the admin (django-prose-editor), cleaned with an allow-list (nh3)
whenever it is validated or written, so that a script, an event handler or a javascript: link never
reaches the database, the API or the public site. Headings, paragraphs, lists, links, bold and italic
are all it keeps.
"""

import html
import re

import nh3
from django_prose_editor.fields import ProseEditorField

ALLOWED_TAGS = frozenset({"p", "br", "h2", "h3", "h4", "ul", "ol", "li", "a", "strong", "em", "b", "i"})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
# The editor's toolbar, kept to what the allow-list keeps: what an editor can make is what is stored.
EDITOR_EXTENSIONS = {
    "Bold": True,
    "Italic": True,
    "Heading": {"levels": [2, 3, 4]},
    "BulletList": True,
    "OrderedList": True,
    "ListItem": True,
    "HardBreak": True,
    "Link": {"enableTarget": False, "protocols": ["http", "https", "mailto"]},
    "History": True,
}

_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    url_schemes={"http", "https", "mailto"},
    # Links to other sites never pass the page's origin or a handle on the page to them.
    link_rel="noopener noreferrer nofollow",
    # Whatever a <script> or <style> held goes with it, rather than surfacing as text.
    clean_content_tags={"script", "style"},
    strip_comments=True,
)
_EMPTY = re.compile(r"^\s*(<p>\s*(<br>)?\s*</p>\s*)*$")
_SPACE = re.compile(r"\s+")


def sanitize(value: str) -> str:
    """The HTML with only the allowed tags, attributes and link schemes; an empty editor is ""."""
    if not value:
        return ""
    cleaned = _cleaner.clean(value)
    return "" if _EMPTY.match(cleaned) else cleaned


def plain_text(value: str) -> str:
    """The text of the HTML, tags gone, entities decoded, whitespace collapsed."""
    # Block ends become spaces, so that "<p>One</p><p>Two</p>" reads "One Two", not "OneTwo".
    spaced = re.sub(r"</(p|h[2-4]|li)>|<br>", " ", value or "")
    return _SPACE.sub(" ", html.unescape(nh3.clean(spaced, tags=set()))).strip()


def excerpt(value: str, length: int = 200) -> str:
    """The first `length` characters of the text, cut at a word, with an ellipsis when cut."""
    text = plain_text(value)
    if len(text) <= length:
        return text
    if text[length] == " ":  # the cut falls between two words
        cut = text[:length]
    elif " " in text[:length]:  # back to the end of the last whole word
        cut = text[:length].rsplit(" ", 1)[0]
    else:
        cut = text[:length]
    return cut.rstrip(" ,.;:") + "…"


def paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs: what text written before rich text, or by a seed, becomes."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text or "") if block.strip()]
    return "".join(f"<p>{html.escape(block).replace(chr(10), '<br>')}</p>" for block in blocks)


class RichTextField(ProseEditorField):
    """
    A TextField edited with django-prose-editor and cleaned with sanitize(): when a form or full_clean()
    validates it, and again whenever it is written (save, bulk_create, update), so no path stores
    unclean HTML. In migrations it is a plain TextField.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("extensions", dict(EDITOR_EXTENSIONS))
        kwargs["sanitize"] = sanitize
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance, add):
        value = sanitize(getattr(model_instance, self.attname))
        setattr(model_instance, self.attname, value)
        return value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return sanitize(value) if isinstance(value, str) else value

    def formfield(self, **kwargs):
        # The form cleans with the same allow-list, so an error page shows the editor what is kept.
        return super().formfield(**{"sanitize": sanitize, **kwargs})
