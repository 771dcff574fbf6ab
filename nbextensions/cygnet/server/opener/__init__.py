"""Open a Git repository or a notebook into the user's workspace by link.

`core.open_link` is the one core: the /cygnet/open page, the /cygnet/api/open event stream and
`cygnet open` all call it. This file imports nothing, so the `puller` subprocess that runs on
every re-open loads only what it needs.
"""
