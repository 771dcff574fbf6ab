"""The server→kernel contract (cygnet.core.contract) names every CYGNET_* variable once: every
name the sources, scripts and docs use is declared there, and the components read and write
them through it, never by a name or a default of their own."""

import os
import re
from pathlib import Path

import pytest

from cygnet.core import contract
from cygnet.core.contract import Var

ROOT = Path(__file__).resolve().parent.parent

# What is searched: Python, shell, TypeScript, the docs and the deployment files.
SUFFIXES = {".py", ".sh", ".ts", ".tsx", ".md", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".j2"}
NAMES = {"Makefile", "Dockerfile", "hub.Dockerfile"}
# Not sources: tools' caches, installed or built things, outputs.
SKIP_DIRS = {".git", ".venv", ".hypothesis", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules"}
SKIP_DIRS |= {"__pycache__", "site", "build", "dist", "test-output"}
SKIP_PATHS = {"nbextensions/labextension/lib", "nbextensions/cygnet/server/labextension", "bench/results"}
# The components' Python: these use the contract's constants, never a name as a string of its own.
COMPONENTS = [
    "core",
    "compute",
    "kernels",
    "spark-connector",
    "dask-connector",
    "nbextensions/cygnet",
    "hub",
    "runs",
    "storage-sync",
    "shares",
    "env-views",
    "docker",
]


def source_files():
    for folder, dirs, files in os.walk(ROOT):
        relative = Path(folder).relative_to(ROOT)
        dirs[:] = [
            d
            for d in dirs
            if d not in SKIP_DIRS and not d.endswith(".egg-info") and (relative / d).as_posix() not in SKIP_PATHS
        ]
        for name in files:
            if Path(name).suffix in SUFFIXES or name in NAMES:
                yield Path(folder) / name


def test_every_name_the_sources_and_docs_use_is_declared():
    used = {}
    for path in source_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for name in contract.NAME.findall(text):
            used.setdefault(name, path.relative_to(ROOT).as_posix())
    assert "CYGNET_PORTS" in used and "CYGNET_TERMINAL_PATH" in used  # the search reaches Python and shell
    undeclared = {name: where for name, where in used.items() if name not in contract.BY_NAME}
    assert not undeclared, f"declare these in cygnet/core/contract.py: {undeclared}"


def test_the_components_use_the_constants_not_names_of_their_own():
    literal = re.compile(r"""(?<![\w$])["']CYGNET_[A-Z0-9_]+["']""")
    found = []
    for component in COMPONENTS:
        for path in (ROOT / component).rglob("*.py"):
            if path == ROOT / "core" / "cygnet" / "core" / "contract.py" or "__pycache__" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if literal.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "use cygnet.core.contract's constants:\n" + "\n".join(found)


def test_each_variable_is_declared_once_in_one_group():
    declared = [value for value in vars(contract).values() if isinstance(value, Var)]
    assert len(contract.ALL) == len(set(contract.ALL)) == len(contract.BY_NAME)
    assert set(declared) == set(contract.ALL), "a Var missing from contract.GROUPS"
    for var in contract.ALL:
        assert contract.NAME.fullmatch(var.name), var.name
        assert var.meaning and "\n" not in var.meaning, var.name
        assert isinstance(var.default, str), var.name
    groups = [group for group, _ in contract.GROUPS]
    assert len(groups) == len(set(groups))
    for needed in ("server → kernel", "hub → session", "server → batch job", "tests only"):
        assert needed in groups


def test_get_gives_the_value_else_the_default(monkeypatch):
    assert contract.PORTS.get({}) == "40000-40999" == contract.PORTS.default
    assert contract.PORTS.get({"CYGNET_PORTS": ""}) == "40000-40999"  # empty counts as unset
    assert contract.PORTS.get({"CYGNET_PORTS": "41000-41099"}) == "41000-41099"
    monkeypatch.setenv("CYGNET_SPARK_CLUSTER", "yarn")
    assert contract.SPARK_CLUSTER.get() == "yarn"
    monkeypatch.delenv("CYGNET_SPARK_CLUSTER")
    assert contract.SPARK_CLUSTER.get() == "local"
    with pytest.raises(AttributeError):
        contract.PORTS.default = "1-2"  # frozen


def test_both_sides_take_their_defaults_from_the_contract(monkeypatch):
    from cygnet.compute import ports
    from cygnet.core.config import Cygnet

    for name in ("CYGNET_PORTS", "CYGNET_SPARK_CLUSTER", "CYGNET_DASK_CLUSTER", "CYGNET_STORAGE_HOME"):
        monkeypatch.delenv(name, raising=False)
    config = Cygnet()
    assert config.spark_port_range == ports.port_range() == contract.PORTS.default
    assert config.spark_default_cluster == contract.SPARK_CLUSTER.default
    assert config.dask_default_cluster == contract.DASK_CLUSTER.default
    assert config.storage_home == contract.STORAGE_HOME.default
    assert not hasattr(ports, "DEFAULT_RANGE")


def test_secrets_are_marked_and_kept_from_batch_jobs():
    assert {"CYGNET_BOX_PASSWORD", "CYGNET_KERBEROS_TICKET"} <= contract.SECRETS
    assert "CYGNET_BOX_USER" not in contract.SECRETS and "CYGNET_SESSION_KEY" not in contract.SECRETS  # a path
    from cygnet.runs.service import SECRET_NAMES

    kept = [name for name in contract.SECRETS if not SECRET_NAMES.search(name)]
    assert kept == ["CYGNET_KERBEROS_TICKET"]  # the name pattern misses it; the contract's flag does not


def test_the_table_has_a_row_per_variable_and_updates_a_page_in_place():
    table = contract.markdown()
    rows = [line for line in table.splitlines() if line.startswith("| `CYGNET_")]
    assert len(rows) == len(contract.ALL)
    assert "| `CYGNET_PORTS` | server → kernel | `40000-40999` |" in table
    assert "**Secret.**" in next(row for row in rows if "CYGNET_BOX_PASSWORD" in row)

    page = contract.updated("# Development\n\nSome text.\n")
    assert contract.HEADING in page and contract.section_of(page) == table
    assert contract.updated(page) == page
    stale = page.replace("40000-40999", "1-2")
    assert contract.section_of(stale) != table and contract.updated(stale) == page
    assert contract.section_of("# No table here\n") is None


def test_the_module_prints_its_table(capsys, tmp_path):
    assert contract.main([]) == 0
    assert capsys.readouterr().out == contract.markdown()
    page = tmp_path / "page.md"
    page.write_text("# Page\n")
    assert contract.main(["--update", str(page)]) == 0
    assert contract.section_of(page.read_text()) == contract.markdown()
    assert contract.main(["--bogus"]) == 2
