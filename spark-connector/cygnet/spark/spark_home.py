"""Kernel side: Spark from a view's SPARK_HOME. LCG views ship Spark as a distribution (a
SPARK_HOME with python/ and jars/), not as a pip package; findspark puts its pyspark and py4j on
the kernel's path. sparkmonitor then reads the same SPARK_HOME to pick its listener jar for that
Spark's version."""

import os

from cygnet.core.errors import Unavailable


def ensure_pyspark():
    """Make `import pyspark` work: the view's own pyspark when it has one, else the distribution
    at $SPARK_HOME. Returns where pyspark comes from ('package', 'SPARK_HOME') or None."""
    try:
        import pyspark  # noqa: F401

        return "package"
    except ImportError:
        pass
    home = os.environ.get("SPARK_HOME")
    if not home:
        return None
    if not os.path.isdir(os.path.join(home, "python", "pyspark")):
        raise Unavailable(f"SPARK_HOME ({home}) holds no Spark distribution: there is no python/pyspark in it")
    try:
        import findspark
    except ImportError:
        raise Unavailable("this kernel cannot load Spark from SPARK_HOME: findspark is not on its path") from None
    try:
        findspark.init(home)
        import pyspark  # noqa: F401
    except (ImportError, IndexError, ValueError) as e:  # findspark: no py4j zip in python/lib
        raise Unavailable(f"the Spark at SPARK_HOME ({home}) cannot be loaded: {e}") from e
    return "SPARK_HOME"
