"""What a view is."""

from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class View:
    """A software stack at <root>/<release>/<platform>/, entered by sourcing its setup.sh."""

    release: str
    platform: str
    path: Path
    python: Path | None  # the view's interpreter, bin/python3 or bin/python
    python_version: str | None
    usable: bool
    reason: str = ""  # why it is unusable; empty when usable
    kernels: tuple = field(default=(), compare=False)  # the ShippedKernels besides its Python
    base: str = ""  # for a custom environment built from a repository: the view it is built on

    @property
    def name(self):
        return f"{self.release}/{self.platform}"

    @property
    def setup(self):
        return self.path / "setup.sh"

    def to_dict(self):
        d = asdict(self)
        d["kernels"] = [k.to_dict() for k in self.kernels]
        d["name"] = self.name
        d["path"] = str(self.path)
        d["python"] = str(self.python) if self.python else None
        return d
