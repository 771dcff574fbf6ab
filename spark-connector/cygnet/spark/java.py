"""The one check that a Java this Spark can run on is there, before Spark is started (on the
server or in a kernel). The version comes from the JDK's `release` file, not from running
`java -version`, so the check costs no JVM start on the way to the user's first result."""

import os
import re
import shutil

from cygnet.core.errors import Unavailable


def check_java(spark_version=None):
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise Unavailable("Java is not installed (no java on PATH and no $JAVA_HOME): Spark needs Java 17+")
    needed = required_java(spark_version)
    found = java_version(java)
    if found is not None and found < needed:
        raise Unavailable(
            f"this Spark needs Java {needed} or newer, and the Java here is {found} ({java}): "
            "install a newer one or point $JAVA_HOME at it"
        )


def required_java(spark_version=None):
    """Java's major version this Spark needs: 17 for Spark 4, 8 before."""
    if spark_version is None:
        try:
            from .spark_home import ensure_pyspark

            ensure_pyspark()
            import pyspark

            spark_version = pyspark.__version__
        except (ImportError, Unavailable):
            return 17
    return 17 if int(str(spark_version).split(".")[0]) >= 4 else 8


def java_version(java):
    """The major version of the JDK or JRE that `java` belongs to, from its `release` file;
    None when there is none to read (the JVM's own start then reports)."""
    home = os.path.dirname(os.path.dirname(os.path.realpath(java)))
    try:
        with open(os.path.join(home, "release")) as f:
            text = f.read()
    except OSError:
        return None
    found = re.search(r'^JAVA_VERSION="(?:1\.)?(\d+)', text, re.MULTILINE)
    return int(found.group(1)) if found else None
