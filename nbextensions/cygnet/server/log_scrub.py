"""Secrets out of the server's log: share tokens (in /cygnet/s/TOKEN paths and share=TOKEN
queries), Jupyter's own token= and the values of environment variables named as secrets
(JUPYTERHUB_API_TOKEN, ..._PASSWORD, ..._KEY) are replaced by [secret] in every line logged,
access lines and tracebacks alike, written plainly or percent-encoded (as in a login's
`next=%2Fcygnet%2Fopen%3Fshare%3DTOKEN`)."""

import logging
import re

# A delimiter as written, or percent-encoded once or more (a `next=` that carries a whole URL).
_SLASH, _QUERY, _EQUALS = r"(?:/|%(?:25)*2F)", r"(?:[?&;]|%(?:25)*(?:3F|26|3B))", r"(?:=|%(?:25)*3D)"
_PATTERNS = [
    (
        re.compile(
            rf"({_SLASH}(?:cygnet|cygnet-shares){_SLASH}s{_SLASH}|{_SLASH}api{_SLASH}links{_SLASH})[A-Za-z0-9_-]+", re.I
        ),
        r"\1[secret]",
    ),
    (re.compile(rf"({_QUERY}(?:share|token|_xsrf){_EQUALS})[^&\s'\"#%]+", re.IGNORECASE), r"\1[secret]"),
    # An environment written out whole (batchspawner logs a session's at debug level): the
    # values of variables named as secrets, in a dict's repr or as NAME=value.
    (
        re.compile(r"""(\b[A-Z][A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|_KEY)['"]?(?:: |=)['"]?)[^'"\s,}]+"""),
        r"\1[secret]",
    ),
]


def scrub_secrets(text):
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class ScrubSecrets(logging.Filter):
    """A handler filter: the record's message and traceback, formatted and scrubbed."""

    def filter(self, record):
        message = record.getMessage()
        scrubbed = scrub_secrets(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_secrets(record.exc_text)
        return True


def install(log):
    """Scrub what every handler of `log` (the server's, which tornado's loggers feed) writes."""
    scrubber = ScrubSecrets()
    for handler in log.handlers or logging.getLogger().handlers:
        if not any(isinstance(f, ScrubSecrets) for f in handler.filters):
            handler.addFilter(scrubber)
