"""The one check that Java is there before Spark is started (on the server or in a kernel)."""

import os
import shutil

from cygnet.core.errors import Unavailable


def check_java():
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise Unavailable("Java is not installed (no java on PATH and no $JAVA_HOME): Spark needs Java 17+")
