"""Reading root:// files into a Spark DataFrame without the Hadoop XRootD connector: the driver
lists the files, and each executor reads its own files through the XRootD client (via
`mapInArrow`, so classic and Spark Connect sessions alike).

    from cygnet.storage.spark_read import read_files
    df = read_files(spark, "root://eos.example.org//eos/user/a/alice/run*/events-*.parquet", "parquet")
    raw = read_files(spark, ["root://.../a.bin", "root://.../b.bin"])        # path, length, content

Sites with the Hadoop XRootD connector jar can use spark.read.parquet("root://...") directly.
"""

import fnmatch
import posixpath

from cygnet.core.errors import BadInput, NotFound

from . import xrootd

BINARY_SCHEMA = "path string, length long, content binary"
GLOB = set("*?[")


def expand(patterns):
    """root:// URLs matching `patterns` (a URL, a glob, or a list of them), sorted."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    urls = []
    for pattern in patterns:
        server, path = xrootd.parse_url(pattern)
        if not GLOB & set(path):
            urls.append(xrootd.join(server, path))
            continue
        found = _walk(server, "/", [p for p in path.split("/") if p])
        if not found:
            raise NotFound(f"no files match {pattern}")
        urls += found
    if not urls:
        raise BadInput("no files given")
    return sorted(set(urls))


def _walk(server, folder, parts):
    head, rest = parts[0], parts[1:]
    if not GLOB & set(head):
        candidates = [head]
    else:
        candidates = [e["name"] for e in xrootd.ls(xrootd.join(server, folder)) if fnmatch.fnmatchcase(e["name"], head)]
    found = []
    for name in candidates:
        path = posixpath.join(folder, name)
        if rest:
            try:
                found += _walk(server, path, rest)
            except NotFound:
                continue
        elif name != head or _exists(xrootd.join(server, path)):  # a listed name exists; a literal one may not
            found.append(xrootd.join(server, path))
    return found


def _exists(url):
    try:
        return xrootd.stat(url)["type"] == "file"
    except NotFound:
        return False


def read_files(spark, paths, format="binary", parallelism=None):  # noqa: A002 - Spark's own word
    """A DataFrame of the files at `paths`: 'binary' (path, length, content) or 'parquet' (the
    files' rows; the schema comes from the first file). One partition per file, up to
    `parallelism` partitions."""
    if format not in ("binary", "parquet"):
        raise BadInput(f"format is 'binary' or 'parquet', not {format!r}")
    urls = expand(paths)
    partitions = min(len(urls), parallelism or len(urls))
    listing = spark.createDataFrame([(u,) for u in urls], "path string").repartition(partitions, "path")
    if format == "binary":
        return listing.mapInArrow(_read_binary, BINARY_SCHEMA)
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = from_arrow_schema(_parquet_schema(urls[0]))
    return listing.mapInArrow(_read_parquet, schema)


def _parquet_schema(url):
    import pyarrow.parquet as pq

    with xrootd.open_url(url, "rb") as f:
        return pq.read_schema(f)


def _read_binary(batches):
    """Executor side: each URL in, one (path, length, content) row out."""
    import pyarrow as pa

    from cygnet.storage import xrootd as remote

    for batch in batches:
        for url in batch.column("path").to_pylist():
            with remote.open_url(url, "rb") as f:
                data = f.read()
            yield pa.RecordBatch.from_pydict({"path": [url], "length": [len(data)], "content": [data]})


def _read_parquet(batches):
    """Executor side: each URL in, the Parquet file's rows out, batch by batch."""
    import pyarrow.parquet as pq

    from cygnet.storage import xrootd as remote

    for batch in batches:
        for url in batch.column("path").to_pylist():
            with remote.open_url(url, "rb") as f:
                yield from pq.ParquetFile(f).iter_batches()
