"""SSR hydration: `{% mizan_context "name" %}` renders a context's data into the page.

    {% load mizan %}
    {% mizan_context "global" %}            {# one <script> per name; several names allowed #}
    {% mizan_context "global" "user" %}

renders, for each name,

    <script id="mizan-ctx-global" type="application/json">{"current_user": "ann"}</script>

whose content is exactly the `data` object of `GET {prefix}ctx/global`, so the browser runtime
reads `JSON.parse(document.getElementById("mizan-ctx-" + name).textContent)` instead of
making the first round trip. The JSON goes through Django's `json_script`, which escapes
`<`, `>` and `&`: a value holding `</script>` can't end the element (XSS-safe).

The response carries the `csrftoken` cookie, as the endpoint's does, so the page's HTTP
calls pass Django's CSRF check without a round trip to fetch it first.

The values come from the same cache, under the same auth rules, as the HTTP endpoint. A
context the visitor may not read (e.g. "user" for an anonymous visitor) renders nothing:
the runtime then fetches it and gets the protocol's `unauthorized`. A context nobody
declared is a programming error and raises. Needs `request` in the template context
(`django.template.context_processors.request`, on by default in new projects).
"""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.middleware.csrf import get_token
from django.utils.html import json_script
from django.utils.safestring import SafeString, mark_safe

from ..contexts import fetch_sync
from ..exceptions import Forbidden, Unauthorized

logger = logging.getLogger("mizan_channels")

register = template.Library()

#: Element ids are this prefix plus the context name (names are [A-Za-z0-9_.-]).
ELEMENT_PREFIX = "mizan-ctx-"


def element_id(name: str) -> str:
    return ELEMENT_PREFIX + name


@register.simple_tag(takes_context=True)
def mizan_context(context: template.Context, *names: str) -> SafeString:
    """A `<script type="application/json" id="mizan-ctx-NAME">` per context name."""
    if not names:
        raise template.TemplateSyntaxError(
            'mizan_context needs at least one context name, e.g. {% mizan_context "global" %}.'
        )
    request: Any = context.get("request")
    if request is None:
        raise template.TemplateSyntaxError(
            "mizan_context needs `request` in the template context: add "
            "'django.template.context_processors.request' to TEMPLATES OPTIONS "
            "context_processors, and render with the request (render(request, ...))."
        )
    # The page will make HTTP calls, which Django's CSRF rules hold to the `csrftoken`
    # cookie: hydrated from here, it never fetches `ctx/` (which sets that cookie), so the
    # page's response must (as `{% csrf_token %}` or `@ensure_csrf_cookie` would).
    get_token(request)
    parts: list[str] = []
    for name in names:
        try:
            data = fetch_sync(str(name), request)
        except (Unauthorized, Forbidden):
            logger.debug("SSR of context %r skipped: not allowed for this visitor", name)
            continue
        parts.append(json_script(data, element_id(str(name))))
    return mark_safe("".join(parts))  # each part is json_script's escaped output
