"""Every kernel a view ships (R, Octave, bash), terminals in the view, and the user's
environment script: through a real server, real kernels from Debian (R's IRkernel, Octave) and
PyPI (octave_kernel, bash_kernel), and the terminals' REST and websocket API."""

import pytest

from tests.support.cli import PLATFORM
from tests.support.views import GOOD_SCRIPT, LANGS, SCRIPT, kernel_name


def shipped(release, spec):
    return f"{kernel_name(release, PLATFORM)}__{spec}"


def test_the_kernels_a_view_ships_are_listed_beside_its_python(langs):
    server, views, _ = langs
    specs = server.get("/api/kernelspecs").json()["kernelspecs"]
    ours = {name: s["spec"] for name, s in specs.items() if name.startswith(kernel_name("LCG_langs", PLATFORM))}
    assert set(ours) == {
        kernel_name("LCG_langs", PLATFORM),
        *(shipped("LCG_langs", k) for k in ("ir", "octave", "bash")),
    }
    ir = ours[shipped("LCG_langs", "ir")]
    assert ir["display_name"] == f"R (LCG_langs {PLATFORM})" and ir["language"] == "R"
    assert ir["metadata"]["cygnet"] == {
        "view": LANGS,
        "release": "LCG_langs",
        "platform": PLATFORM,
        "kernel": "ir",
        "spark": False,
    }
    assert ir["metadata"]["kernel_provisioner"]["provisioner_name"] == "cygnet-view"
    assert ours[kernel_name("LCG_langs", PLATFORM)]["metadata"]["cygnet"]["spark"] is True
    # The logo a spec ships is served from the view.
    logo = server.get(f"/kernelspecs/{shipped('LCG_langs', 'ir')}/logo-64x64.png")
    assert logo.status_code == 200 and logo.content.startswith(b"\x89PNG")

    assert shipped("LCG_missing", "ir") not in specs, "a kernel that cannot start is not offered"
    listing = {v["name"]: v for v in server.get("/cygnet/api/views").json()}
    kernels = {k["name"]: k for k in listing[f"LCG_missing/{PLATFORM}"]["kernels"]}
    assert kernels[kernel_name("LCG_missing", PLATFORM)]["usable"]
    missing = kernels[shipped("LCG_missing", "ir")]
    assert not missing["usable"] and "/cvmfs/sft.cern.ch/lcg/releases/R/4.3.2/bin/R" in missing["reason"]
    names = [k["name"] for k in listing[LANGS]["kernels"]]
    assert names[0] == kernel_name("LCG_langs", PLATFORM), "the view's Python comes first"


def test_a_kernel_that_cannot_start_is_refused_with_its_reason(langs):
    server, _, _ = langs
    r = server.start_kernel(shipped("LCG_missing", "ir"))
    assert r.status_code in (404, 503), r.text
    assert "/cvmfs/sft.cern.ch/lcg/releases/R/4.3.2/bin/R" in r.text
    assert server.get("/api/status").status_code == 200


PROBES = {
    "ir": 'cat(Sys.getenv("CYGNET_TEST_MARKER"), Sys.getenv("CYGNET_USER_SCRIPT"), '
    'Sys.getenv("SERVER_ONLY_SENTINEL"), Sys.getenv("PATH"), sep="|")',
    "octave": 'printf("%s|%s|%s|%s\\n", getenv("CYGNET_TEST_MARKER"), getenv("CYGNET_USER_SCRIPT"), '
    'getenv("SERVER_ONLY_SENTINEL"), getenv("PATH"))',
    "bash": 'echo "$CYGNET_TEST_MARKER|$CYGNET_USER_SCRIPT|$SERVER_ONLY_SENTINEL|$PATH"',
}


@pytest.mark.parametrize("spec", sorted(PROBES))
def test_a_shipped_kernel_runs_in_its_view_after_the_user_script(langs, spec):
    server, views, _ = langs
    kernel = server.kernel(shipped("LCG_langs", spec))
    try:
        out = kernel.run(PROBES[spec], timeout=120).strip().splitlines()[-1]
    finally:
        kernel.shutdown()
    marker, script, sentinel, path = out.split("|", 3)
    assert marker == "marker-LCG_langs", out
    assert script == "from-env", "the user's script is sourced after setup.sh, in its own folder"
    assert sentinel == "", "the server's own environment does not leak"
    # The view's bin before the system's (a user's own ~/.bashrc may still put things first).
    entries = path.split(":")
    assert entries.index(str(views["langs"] / "bin")) < entries.index("/usr/bin"), path


def test_a_terminal_runs_in_the_default_view_with_the_user_script(langs):
    server, views, _ = langs
    out = server.terminal('echo "T:$CYGNET_TEST_MARKER:$CYGNET_USER_SCRIPT:$(command -v python)"', "T:marker")
    line = next(x for x in out.splitlines() if x.startswith("T:marker"))
    assert line.strip() == f"T:marker-LCG_langs:from-env:{views['langs'] / 'bin' / 'python'}", out


def test_a_terminal_can_be_opened_in_another_view_and_an_unknown_one_is_refused(langs):
    server, views, _ = langs
    out = server.terminal('echo "T:$CYGNET_VIEW:$(command -v python)"', "T:LCG", body={"view": f"LCG_plain/{PLATFORM}"})
    assert f"T:LCG_plain/{PLATFORM}:{views['plain'] / 'bin' / 'python'}" in out
    r = server.post("/api/terminals", json={"view": "LCG_nothere/x86_64"})
    assert r.status_code == 404 and "LCG_nothere" in r.text, r.text
    r = server.post("/api/terminals", json={"view": ["not", "a", "name"]})
    assert r.status_code == 400, r.text


def test_a_failing_user_script_stops_kernels_and_terminals_with_its_last_lines(langs):
    server, _, workspace = langs
    script = workspace / SCRIPT
    script.write_text('echo "loading my-analysis-env"\necho "my-analysis-env: no such release 9.9" >&2\nfalse\n')
    try:
        r = server.start_kernel(shipped("LCG_langs", "bash"))
        assert r.status_code == 503, r.text
        message = r.json()["message"]
        assert SCRIPT in message and "no such release 9.9" in message and "half-set" in message, message
        r = server.post("/api/terminals")
        assert r.status_code == 503 and "no such release 9.9" in r.text, r.text
        views = {v["name"]: v for v in server.get("/cygnet/api/views").json()}
        assert views[LANGS]["usable"], "the user's failing script does not mark the site's view broken"
    finally:
        script.write_text(GOOD_SCRIPT.replace("from-", "again-from-"))
    # A changed script is a new environment: the next kernel sources it again.
    kernel = server.kernel(shipped("LCG_langs", "bash"))
    try:
        assert kernel.run('echo "$CYGNET_USER_SCRIPT"').strip() == "again-from-env"
    finally:
        kernel.shutdown()
        script.write_text(GOOD_SCRIPT)


def test_spark_from_a_views_spark_home_with_sparkmonitor_matched_to_it(langs):
    """An LCG-like view: no pyspark package, Spark at $SPARK_HOME (found with findspark)."""
    server, views, _ = langs
    kernel = server.kernel(kernel_name("LCG_sparkhome", PLATFORM))
    try:
        assert kernel.run("import importlib.util; print(importlib.util.find_spec('pyspark'))").strip() == "None"
        kernel.run("%spark connect --cluster local", timeout=300)
        out = kernel.run(
            "import pyspark; print(pyspark.__file__); print(spark.range(100).count()); "
            "print(spark.sparkContext.getConf().get('spark.driver.extraClassPath'))",
            timeout=120,
        )
    finally:
        kernel.shutdown()
    where, count, classpath = out.strip().splitlines()[-3:]
    assert where.startswith(str(views["sparkhome"] / "spark" / "python" / "pyspark")), out
    assert count == "100"
    import pyspark

    major = pyspark.__version__.split(".")[0]
    assert f"listener_spark{major}_2.13.jar" in classpath, "sparkmonitor's jar for this Spark"
