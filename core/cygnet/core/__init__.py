"""What every Cygnet component shares: errors, the data directory, atomic writes, bounded
subprocesses, site configuration and the `cygnet` command's dispatcher.

`errors`, `atomic` and `proc` use the standard library only, so kernel-side code may use them.
"""
