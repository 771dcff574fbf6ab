"""The documentation stays true: the configuration reference is what the code's traits make,
the MkDocs site builds without a warning, and the README keeps its two commands."""

import subprocess
from pathlib import Path

from cygnet.core import contract
from cygnet.core.config import Cygnet
from cygnet.core.config_docs import reference
from tests.support.jupyter import VENV_BIN

ROOT = Path(__file__).resolve().parent.parent


def test_the_configuration_reference_is_made_from_the_traits():
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert page == reference(), "docs/configuration.md is stale: run `make docs`"
    assert all(f"`Cygnet.{name}`" in page for name in Cygnet.class_traits(config=True))


def test_the_api_reference_is_made_from_the_openapi_document():
    from cygnet.server.openapi import reference as api_reference

    page = (ROOT / "docs" / "api-reference.md").read_text()
    assert page == api_reference() + "\n", "docs/api-reference.md is stale: run `make docs`"


def test_the_contract_table_in_the_development_guide_is_made_from_the_contract():
    page = (ROOT / "docs" / "development.md").read_text()
    assert contract.HEADING in page
    assert contract.section_of(page) == contract.markdown(), (
        "docs/development.md's contract table is stale: run `make docs`"
    )


def test_the_docs_site_builds_strictly(tmp_path):
    built = subprocess.run(
        [str(VENV_BIN / "mkdocs"), "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "configuration" / "index.html").exists()


def test_the_readme_keeps_the_two_commands_and_the_layout():
    readme = (ROOT / "README.md").read_text()
    for needed in ("make up", "make test", "## Layout", "## Status", "docs/configuration.md"):
        assert needed in readme


def test_the_grafana_dashboard_charts_only_metrics_the_admin_guide_names():
    import json
    import re

    dashboard = json.loads((ROOT / "docker" / "grafana" / "cygnet-dashboard.json").read_text())
    guide = (ROOT / "docs" / "admin-guide.md").read_text()
    names = {m for p in dashboard["panels"] for t in p["targets"] for m in re.findall(r"cygnet_\w+", t["expr"])}
    assert names, "the dashboard charts Cygnet's metrics"
    for name in names:
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert base in guide, f"{name} is charted but the admin guide does not name it"
