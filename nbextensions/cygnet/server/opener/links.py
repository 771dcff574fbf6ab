"""Shareable 'open in Cygnet' links and their README badge."""

from urllib.parse import urlencode

from cygnet.core import checks
from cygnet.core.errors import BadInput

BADGE_PATH = "cygnet/badge.svg"
LINK_PARAMETERS = ("repo", "branch", "path", "target", "url", "share", "shared", "gallery", "env")


def build_link(base_url, params):
    """The /cygnet/open URL on `base_url` (the service's public address) for these parameters."""
    if not base_url.startswith(("https://", "http://")):
        raise BadInput(f"the service's base URL must be an http(s) URL, not {base_url!r}")
    unknown = set(params) - set(LINK_PARAMETERS)
    if unknown:
        raise BadInput(f"unknown link parameter(s): {', '.join(sorted(unknown))}")
    if not (params.get("repo") or params.get("url")):
        raise BadInput("a link needs repo= or url=")
    for name, value in params.items():
        checks.text(value, name, required=False, allow_empty=True)
    for name in ("repo", "url"):  # no spaces, no leading '-': what an open would refuse anyway
        if params.get(name) and (params[name].startswith("-") or any(c.isspace() for c in params[name])):
            raise BadInput(f"not a valid {name}: {params[name]!r}")
    base = base_url.rstrip("/") + "/"
    query = urlencode({k: v for k, v in params.items() if v})
    link = f"{base}cygnet/open?{query}"
    return {"url": link, "markdown": f"[![Open in Cygnet]({base}{BADGE_PATH})]({link})"}


BADGE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="118" height="20" role="img" aria-label="Open in Cygnet">
<rect width="118" height="20" rx="3" fill="#1f4e79"/><rect x="0" width="40" height="20" rx="3" fill="#555"/>
<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="7" y="14">open</text><text x="47" y="14">in Cygnet</text></g></svg>
"""
