"""The compute layer every engine shares: the site's catalogue of clusters (`catalogue`), the
registry of cluster kinds each engine contributes (`kinds`), the port leases of drivers and
schedulers (`ports`) and the one comm shape of the compute panel (`engine_comm`).

`cygnet.spark` and `cygnet.dask` import this package and never each other; a third engine
registers its kinds (entry point group `cygnet.cluster_kinds`) and reuses the rest. Kernel
side too: standard library only, nothing heavy at import.
"""

# Kernel-side packages this one needs on a kernel's path (cygnet.kernels.isolation).
KERNEL_REQUIRES = ("cygnet.core",)
