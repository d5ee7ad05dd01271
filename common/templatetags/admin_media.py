"""
`{% media_with_nonce media %}`: a form's media with the request's CSP nonce on its inline import map
(django-prose-editor loads its modules through one). The policy allows no other inline script; a page
without an import map renders its media as Django does and sends no nonce.
"""

from django import template
from js_asset import Media

register = template.Library()


@register.simple_tag(takes_context=True)
def media_with_nonce(context, media):
    request = context.get("request")
    if isinstance(media, Media) and media["importmap"].render() and request is not None:
        return media.with_nonce(str(request.csp_nonce)).render()
    return media.render()
