"""The kernels a view ships besides its Python: Jupyter kernel specs inside the view, as an LCG
view has them (R's IRkernel, Octave, bash under share/jupyter/kernels/, ROOT's C++ kernel under
etc/notebook/kernels/). Read without running anything, so listing them stays cheap.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

# Where a view keeps kernel specs, relative to the view: Jupyter's data path, and ROOT's.
KERNEL_DIRS = ("share/jupyter/kernels", "etc/notebook/kernels")
# Where a kernel's executable is looked for when its argv names it without a path: the view's
# own bin/, then the system's (a view's setup.sh puts bin/ first on PATH; it is not sourced here).
SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
MAX_SPEC_BYTES = 64 * 1024


@dataclass(frozen=True)
class ShippedKernel:
    """One kernel spec found in a view."""

    name: str  # the spec's folder name, e.g. 'ir'
    display_name: str
    language: str
    argv: tuple
    resource_dir: str
    env: dict = field(default_factory=dict)
    interrupt_mode: str = "signal"
    metadata: dict = field(default_factory=dict)
    usable: bool = True
    reason: str = ""  # why it cannot start; empty when it can

    def to_dict(self):
        return {
            "name": self.name,
            "display_name": self.display_name,
            "language": self.language,
            "usable": self.usable,
            "reason": self.reason,
        }


def shipped_kernels(view_path):
    """Every kernel spec the view at `view_path` ships, except those that only run the view's
    own Python through ipykernel (Cygnet offers that one itself), sorted by name."""
    found = {}
    for folder in KERNEL_DIRS:
        try:
            entries = sorted(os.scandir(Path(view_path) / folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name in found or not entry.is_dir():
                continue
            kernel = _read_spec(Path(view_path), Path(entry.path))
            if kernel is not None and not _is_view_python(kernel):
                found[entry.name] = kernel
    return tuple(found[name] for name in sorted(found))


def kernel_dirs(view_path):
    """The folders shipped kernels are read from (for change detection)."""
    return [Path(view_path) / folder for folder in KERNEL_DIRS]


def _read_spec(view_path, folder):
    name = folder.name
    try:
        with open(folder / "kernel.json", "rb") as f:
            raw = f.read(MAX_SPEC_BYTES + 1)
    except OSError:
        return None  # a folder without a spec is not a kernel
    broken = ShippedKernel(name, name, "", (), str(folder), usable=False)
    try:
        if len(raw) > MAX_SPEC_BYTES:
            raise ValueError(f"larger than {MAX_SPEC_BYTES} bytes")
        spec = json.loads(raw)
        argv = spec["argv"]
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("its argv is not a list of strings")
        env = spec.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise ValueError("its env is not a mapping of strings")
    except (ValueError, KeyError, TypeError) as e:
        reason = f"its kernel.json ({folder / 'kernel.json'}) is not a valid kernel spec: {e}"
        return ShippedKernel(**{**broken.__dict__, "reason": reason})
    kernel = ShippedKernel(
        name=name,
        display_name=str(spec.get("display_name") or name),
        language=str(spec.get("language") or ""),
        argv=tuple(argv),
        resource_dir=str(folder),
        env=dict(env),
        interrupt_mode=spec.get("interrupt_mode") if spec.get("interrupt_mode") in ("signal", "message") else "signal",
        metadata=spec.get("metadata") if isinstance(spec.get("metadata"), dict) else {},
    )
    missing = _missing_executable(view_path, argv[0])
    if missing:
        return ShippedKernel(**{**kernel.__dict__, "usable": False, "reason": missing})
    return kernel


def _missing_executable(view_path, program):
    """Why `program` (a kernel's argv[0]) cannot be run, or '' when it is found."""
    if "{" in program:
        return ""  # filled in at launch, such as {resource_dir}/kernel.sh
    if os.sep in program:
        if Path(program).is_file() and os.access(program, os.X_OK):
            return ""
        return f"its executable {program} does not exist or cannot be run"
    for folder in (Path(view_path) / "bin", *map(Path, SYSTEM_PATH)):
        candidate = folder / program
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return ""
    return f"its executable {program!r} is neither in the view's bin/ nor on the system PATH"


def _is_view_python(kernel):
    """A spec that starts ipykernel in Python: the view's own Python kernel, listed already."""
    if kernel.language.lower() != "python":
        return False
    return any(a in ("ipykernel_launcher", "ipykernel") for a in kernel.argv)
