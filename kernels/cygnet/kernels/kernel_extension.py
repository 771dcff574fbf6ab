"""Kernel side: the IPython extension every Cygnet kernel loads at start.

It runs in the view's Python, so it uses the standard library, IPython and the contract of
cygnet.core only. It offers `%view` (which software stack am I on?) and loads the site's further
kernel extensions, named in $CYGNET_KERNEL_EXTENSIONS, one by one so a broken one cannot stop
the kernel.
"""

import os
import sys

from cygnet.core import contract


def view_info():
    return {
        "view": os.environ.get(contract.VIEW.name),
        "path": os.environ.get(contract.VIEW_PATH.name),
        "python": sys.executable,
        "python_version": ".".join(map(str, sys.version_info[:3])),
    }


def view_magic(line=""):
    """%view: show the software view this kernel runs in."""
    info = view_info()
    width = max(map(len, info))
    print("\n".join(f"{key:<{width}}  {value}" for key, value in info.items()))


def load_ipython_extension(ipython):
    ipython.register_magic_function(view_magic, "line", "view")
    for name in filter(None, contract.KERNEL_EXTENSIONS.get().split(",")):
        try:
            ipython.extension_manager.load_extension(name)
        except Exception as e:  # noqa: BLE001 - one bad extension must not take the kernel down
            print(f"cygnet: kernel extension {name!r} failed to load: {e}", file=sys.__stderr__)
