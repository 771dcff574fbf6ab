"""The README documents every configuration option."""

from pathlib import Path

from cygnet.core.config import Cygnet

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_config_option_is_documented():
    missing = [n for n in Cygnet.class_traits(config=True) if f"`Cygnet.{n}`" not in README]
    assert not missing, f"options missing from the README's configuration reference: {missing}"
