"""Kernels that run inside software views.

Server side: `specs` (a kernel spec per usable view), `provisioner` (launches a kernel with its
view's environment), `isolation` (what a kernel may inherit). Kernel side: `kernel_extension`,
auto-loaded in every Cygnet kernel. This file imports nothing, so the package can be put on a
kernel's path.
"""

# Kernel-side packages this one needs on a kernel's path (cygnet.kernels.isolation).
KERNEL_REQUIRES = ("cygnet.core",)
