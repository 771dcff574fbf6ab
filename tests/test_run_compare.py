"""Comparing two runs' results cell by cell (cygnet.runs.compare), on notebooks made here: text,
numbers within a tolerance, images by their pixels, errors, cells only on one side."""

import base64
import io

import pytest
from PIL import Image

from cygnet.core.errors import BadInput
from cygnet.runs.compare import Tolerance, compare_notebooks, describe, summary

EXACT = Tolerance()


def cell(*outputs, source="x = 1"):
    return {"cell_type": "code", "source": source, "outputs": list(outputs), "metadata": {}, "execution_count": 3}


def stream(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def result(data, count=1):
    return {"output_type": "execute_result", "data": data, "metadata": {}, "execution_count": count}


def png(colour, size=(4, 4), dot=None, **save):
    image = Image.new("RGB", size, colour)
    if dot:
        image.putpixel(dot, (0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **save)
    return base64.b64encode(buffer.getvalue()).decode()


def nb(*cells):
    return {"cells": [{"cell_type": "markdown", "source": "# notes", "metadata": {}}, *cells], "metadata": {}}


def verdicts(a, b, tolerance=EXACT):
    return [(row["verdict"], row["detail"]) for row in compare_notebooks(a, b, tolerance)]


def test_text_matches_exactly_and_a_stream_cut_differently_is_the_same():
    a = nb(cell(stream("events 10\n"), stream("done\n")), cell(result({"text/plain": "42"}, count=7)))
    b = nb(cell(stream("events 10\ndone\n")), cell(result({"text/plain": "42"}, count=9)))
    assert verdicts(a, b) == [("same", ""), ("same", "")]


def test_numbers_within_the_tolerance_are_close_and_beyond_it_differ():
    a, b = nb(cell(stream("mean 0.1000000 sigma 2\n"))), nb(cell(stream("mean 0.1000001 sigma 2\n")))
    ((verdict, detail),) = verdicts(a, b)
    assert verdict == "differs" and "0.1000000 against 0.1000001" in detail
    ((verdict, detail),) = verdicts(a, b, Tolerance(rel=1e-5))
    assert verdict == "close" and "largest difference 1e-07" in detail
    assert verdicts(a, b, Tolerance(abs=1e-6))[0][0] == "close"
    words = nb(cell(stream("mean 0.1000000 sigma 2\n"))), nb(cell(stream("median 0.1000000 sigma 2\n")))
    assert verdicts(*words, Tolerance(rel=1))[0][0] == "differs", "words never match by tolerance"


def test_images_compare_by_their_pixels():
    same_pixels = png("white"), png("white", optimize=True, compress_level=9)
    assert same_pixels[0] != same_pixels[1], "two encodings of one picture"
    a = nb(cell(result({"image/png": same_pixels[0], "text/plain": "<Figure>"})))
    b = nb(cell(result({"image/png": same_pixels[1], "text/plain": "<Figure>"})))
    assert verdicts(a, b) == [("same", "")]
    c = nb(cell(result({"image/png": png("white", dot=(1, 1)), "text/plain": "<Figure>"})))
    assert verdicts(a, c) == [("differs", "6.2% of the image's pixels differ")]
    d = nb(cell(result({"image/png": png("white", size=(8, 4)), "text/plain": "<Figure>"})))
    assert verdicts(a, d) == [("differs", "a different image")]


def test_errors_missing_outputs_and_cells_only_on_one_side():
    error = {"output_type": "error", "ename": "ValueError", "evalue": "no convergence", "traceback": ["..."]}
    a = nb(cell(stream("ok\n")), cell(error, source="fit()"), cell(source="plot()"))
    b = nb(cell(), cell(stream("chi2 1.2\n"), source="fit()"))
    rows = compare_notebooks(a, b)
    assert [(r["cell"], r["verdict"]) for r in rows] == [(0, "differs"), (1, "differs"), (2, "only-a")]
    assert rows[0]["detail"] == "1 outputs against 0"
    assert rows[1]["detail"] == "a error output against a stream output"
    overall, counts = summary(rows)
    assert overall == "differs" and counts == {"differs": 2, "only-a": 1}
    changed = compare_notebooks(nb(cell(source="x = 1")), nb(cell(source="x = 2")))
    assert changed[0]["verdict"] == "same" and changed[0]["detail"] == "the cell's source differs"


def test_the_report_for_a_terminal_names_what_changed():
    cells = compare_notebooks(nb(cell(stream("a 1\n")), cell()), nb(cell(stream("a 2\n")), cell()))
    verdict, counts = summary(cells)
    report = {
        "a": {"view": "LCG_106/x", "parameters": {"year": 1}, "duration_seconds": 2.0, "state": "succeeded"},
        "b": {"view": "LCG_107/x", "parameters": {"year": 1}, "duration_seconds": 3.5, "state": "succeeded"},
        "cells": cells,
        "verdict": verdict,
        "counts": counts,
    }
    assert describe(report) == [
        "view: 'LCG_106/x' -> 'LCG_107/x'",
        "duration_seconds: 2.0 s -> 3.5 s",
        "cell 0 [differs] x = 1: 1 against 2 (beyond the tolerance); line 1: 'a 1' against 'a 2'",
        "verdict: differs (1 differs, 1 same)",
    ]


@pytest.mark.parametrize("rel,abs_", [(-1, 0), (0, float("inf")), (True, 0), ("1", 0)])
def test_a_bad_tolerance_is_refused(rel, abs_):
    with pytest.raises(BadInput):
        Tolerance.checked(rel, abs_)
    with pytest.raises(BadInput, match="not a notebook"):
        compare_notebooks({"cells": "no"}, nb())


def test_cells_pair_by_source_and_papermills_injected_parameters_are_left_out():
    injected = cell(source="# Parameters\nenergy = 7")
    injected["metadata"] = {"tags": ["injected-parameters"]}
    a = nb(cell(source="energy = 13.6"), injected, cell(stream("energy is 7\n"), source="print(energy)"))
    b = nb(
        cell(source="energy = 13.6"),
        cell(stream("new\n"), source="print('new')"),
        cell(stream("energy is 13.6\n"), source="print(energy)"),
    )
    rows = compare_notebooks(a, b)
    assert [(r["cell"], r["verdict"]) for r in rows] == [(0, "same"), (1, "only-b"), (1, "differs")]
    assert "13.6" in rows[2]["detail"] and rows[2]["source"] == "print(energy)"
