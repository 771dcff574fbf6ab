"""Secrets out of the server's log: share tokens (in /cygnet/s/TOKEN paths and share=TOKEN
queries) and Jupyter's own token= are replaced by [secret] in every line the server logs,
access lines and tracebacks alike."""

import logging
import re

_PATTERNS = [
    (re.compile(r"(/cygnet/s/|/cygnet-shares/s/|/api/links/)[A-Za-z0-9_%-]+"), r"\1[secret]"),
    (re.compile(r"([?&;](?:share|token|_xsrf)(?:=|%3D))[^&\s'\"#]+", re.IGNORECASE), r"\1[secret]"),
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
