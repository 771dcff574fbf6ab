"""Compare two runs' executed notebooks cell by cell: do they give the same answer?

Text outputs (streams, plain-text results, errors) match exactly, or *within tolerance* when they
differ only in numbers that are close (|a - b| <= abs_tol + rel_tol * |b|, as math.isclose);
images match when their pixels do (a changed PNG encoder is not a changed plot), and otherwise
say how much of the picture changed. Rich outputs without a text or image form (HTML tables,
widgets) are compared as they are. Execution counts, timings and metadata are ignored. The
visual diff of the two notebooks is nbdime's (its page in the server, `nbdime/difftool`).
"""

import base64
import difflib
import io
import math
import re
from dataclasses import dataclass

from cygnet.core.errors import BadInput

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
SHOWN = 160  # characters of a differing line shown in a report


@dataclass(frozen=True)
class Tolerance:
    rel: float = 0.0
    abs: float = 0.0

    @classmethod
    def checked(cls, rel=0.0, abs_=0.0):
        for name, value in (("rel_tol", rel), ("abs_tol", abs_)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
                raise BadInput(f"{name} must be a number, 0 or more")
        return cls(float(rel), float(abs_))


def compare_notebooks(a, b, tolerance=Tolerance()):
    """[{cell, source, verdict, detail}] for each code cell of `a` and `b` (nbformat dicts, or
    NotebookNode); verdict: same, close, differs, only-a, only-b. Cells are paired by their
    source (a cell added to the notebook between two runs shifts nothing), and papermill's
    injected-parameters cell is left out: the parameters are compared on their own."""
    cells_a, cells_b = _code_cells(a), _code_cells(b)
    report = []
    for index_a, index_b in _pairs(cells_a, cells_b):
        if index_a is None or index_b is None:
            side, index = ("a", index_a) if index_b is None else ("b", index_b)
            source = (cells_a if side == "a" else cells_b)[index]["source"]
            report.append(_row(index, source, f"only-{side}", f"the cell is only in run {side.upper()}"))
            continue
        cell_a, cell_b = cells_a[index_a], cells_b[index_b]
        verdict, detail = compare_outputs(_outputs(cell_a), _outputs(cell_b), tolerance)
        if _text(cell_a["source"]) != _text(cell_b["source"]):
            detail = "the cell's source differs; " + detail if detail else "the cell's source differs"
        report.append(_row(index_a, cell_a["source"], verdict, detail))
    return report


def _pairs(cells_a, cells_b):
    """(index in a or None, index in b or None) for every cell, in order: equal sources paired,
    a run of changed cells paired by position, the rest on one side only."""
    matcher = difflib.SequenceMatcher(
        a=[_text(c["source"]) for c in cells_a], b=[_text(c["source"]) for c in cells_b], autojunk=False
    )
    for _tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            yield (i1 + k if i1 + k < i2 else None), (j1 + k if j1 + k < j2 else None)


def compare_outputs(outputs_a, outputs_b, tolerance):
    """(verdict, detail) of two cells' outputs, each a list of (kind, value) from _outputs."""
    if len(outputs_a) != len(outputs_b):
        return "differs", f"{len(outputs_a)} outputs against {len(outputs_b)}"
    verdict, details = "same", []
    for (kind_a, value_a), (kind_b, value_b) in zip(outputs_a, outputs_b, strict=True):
        if kind_a != kind_b:
            return "differs", f"a {kind_a} output against a {kind_b} output"
        if value_a == value_b:
            continue
        if kind_a.startswith("image/"):
            changed = _pixels_changed(value_a, value_b)
            if changed == 0:
                continue
            what = "a different image" if changed is None else f"{changed:.1%} of the image's pixels differ"
            return "differs", what
        if kind_a.startswith("text") or kind_a in ("stream", "error"):
            close, detail = _close_text(value_a, value_b, tolerance)
            if not close:
                return "differs", detail
            verdict = "close"
            details.append(detail)
            continue
        return "differs", f"the {kind_a} output differs"
    return verdict, "; ".join(details)


def summary(cells):
    """The overall verdict and the counts of each cell verdict."""
    counts = {}
    for row in cells:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    overall = "same"
    if counts.get("close"):
        overall = "close"
    if any(counts.get(v) for v in ("differs", "only-a", "only-b")):
        overall = "differs"
    return overall, counts


def describe(report):
    """Lines for a terminal: one per cell that is not the same, and the verdict."""
    lines = []
    for key in ("view", "parameters", "duration_seconds", "state"):
        a, b = report["a"].get(key), report["b"].get(key)
        if a != b:
            lines.append(f"{key}: {_brief(a)} -> {_brief(b)}")
    for row in report["cells"]:
        if row["verdict"] != "same":
            lines.append(f"cell {row['cell']} [{row['verdict']}] {row['source']}: {row['detail']}")
    counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(report["counts"].items()))
    lines.append(f"verdict: {report['verdict']} ({counts})")
    return lines


def _code_cells(nb):
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise BadInput("not a notebook: it has no list of cells")
    return [
        c
        for c in nb["cells"]
        if isinstance(c, dict)
        and c.get("cell_type") == "code"
        and "injected-parameters" not in ((c.get("metadata") or {}).get("tags") or ())
    ]


def _outputs(cell):
    """A cell's outputs as (kind, value) pairs, what is compared and nothing else."""
    pairs = []
    for output in cell.get("outputs") or []:
        kind = output.get("output_type")
        if kind == "stream":
            text = _text(output.get("text", ""))
            if pairs and pairs[-1][0] == "stream":  # how a stream is cut into pieces is timing
                pairs[-1] = ("stream", pairs[-1][1] + text)
            else:
                pairs.append(("stream", text))
        elif kind == "error":
            pairs.append(("error", f"{output.get('ename', '')}: {output.get('evalue', '')}"))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data") or {}
            image = next((t for t in IMAGE_TYPES if t in data), None)
            if image:
                pairs.append((image, _text(data[image]).strip()))
            elif "text/plain" in data:
                pairs.append(("text/plain", _text(data["text/plain"])))
            elif data:
                mime = sorted(data)[0]
                pairs.append((mime, _text(data[mime]) if isinstance(data[mime], str | list) else repr(data[mime])))
    return pairs


def _close_text(a, b, tolerance):
    """Whether two texts differ only in numbers within tolerance; and a line saying where."""
    words_a, words_b = NUMBER.split(a), NUMBER.split(b)
    numbers_a, numbers_b = NUMBER.findall(a), NUMBER.findall(b)
    if words_a != words_b or len(numbers_a) != len(numbers_b):
        return False, _first_difference(a, b)
    worst = 0.0
    for x, y in zip(numbers_a, numbers_b, strict=True):
        if x == y:
            continue
        fx, fy = float(x), float(y)
        if not math.isclose(fx, fy, rel_tol=tolerance.rel, abs_tol=tolerance.abs):
            return False, f"{x} against {y} (beyond the tolerance); " + _first_difference(a, b)
        worst = max(worst, abs(fx - fy))
    return True, f"numbers within the tolerance (largest difference {worst:.3g})"


def _first_difference(a, b):
    lines_a, lines_b = a.splitlines(), b.splitlines()
    for number, (x, y) in enumerate(zip(lines_a, lines_b, strict=False), 1):
        if x != y:
            return f"line {number}: {x[:SHOWN]!r} against {y[:SHOWN]!r}"
    return f"{len(lines_a)} lines against {len(lines_b)}"


def _pixels_changed(a, b):
    """The share of pixels that differ between two base64 images (0 when only the encoding
    differs); None when they cannot be decoded or differ in size."""
    try:
        from PIL import Image, ImageChops

        image_a = Image.open(io.BytesIO(base64.b64decode(a))).convert("RGBA")
        image_b = Image.open(io.BytesIO(base64.b64decode(b))).convert("RGBA")
    except Exception:  # noqa: BLE001 - not decodable here (no Pillow, a broken image): "different"
        return None
    if image_a.size != image_b.size:
        return None
    difference = ImageChops.difference(image_a, image_b).convert("L").point(lambda v: 255 if v else 0)
    changed = difference.histogram()[255]
    return changed / (image_a.size[0] * image_a.size[1] or 1)


def _text(value):
    return "".join(value) if isinstance(value, list) else str(value)


def _row(index, source, verdict, detail):
    first = _text(source).strip().splitlines()[:1]
    return {"cell": index, "source": first[0][:80] if first else "", "verdict": verdict, "detail": detail}


def _brief(value):
    return f"{value:.1f} s" if isinstance(value, float) else repr(value)
