"""tests/check_deps.py, the guard that keeps `make test` passing on a fresh machine: every program,
Python module, header and library the code uses must come from a package the Makefile installs
for that command, and every listed package must be used."""
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECK = ROOT / "tests" / "check_deps.py"

# The check reads the sources, not a build: once per `make test` is enough.
pytestmark = pytest.mark.skipif("asan" in os.environ.get("STRATA_BUILD", ""),
                                reason="independent of the build; runs with the optimized build's e2e pass")


def check(*args, root=ROOT):
    return subprocess.run(["/usr/bin/python3", str(CHECK), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=300)


def test_the_tree_as_it_is_passes():
    out = check()
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("package, named", [
    ("gnuplot-nox", "program gnuplot (bench/strata_bench/latency_plot.cc"),
    # redis-server depends on redis-tools: dropping only the latter still installs redis-cli.
    ("redis-tools redis-server", "program /usr/bin/redis-cli (tests/e2e/test_clients.py"),
    ("redis-server", "program /usr/bin/redis-server (tests/e2e/conftest.py"),
    ("python3-hiredis", "module hiredis (tests/e2e/test_clients.py"),
    ("postgresql", "program pg_ctl (tests/pg_harness/pg-harness.sh"),
    ("libuv1-dev", "pkg-config module libuv (CMakeLists.txt"),
    ("libclang-rt-14-dev", "library libclang_rt.fuzzer (tests/fuzz/CMakeLists.txt"),
    ("sqlite3", "program sqlite3 (conf/demo/build-demo-db.sh"),
])
def test_dropping_a_package_from_the_makefile_fails_naming_what_needs_it(package, named):
    out = check(*[arg for p in package.split() for arg in ("--drop", p)])
    assert out.returncode == 1, out.stdout
    lines = [l for l in out.stdout.splitlines() if named in l]
    assert lines, out.stdout
    assert package.split()[0] in lines[0] or "not installed" in lines[0], lines[0]


@pytest.fixture
def tree_copy(tmp_path):
    """The repository's sources (not its builds), copied, so a test can add to them."""
    copy = tmp_path / "tree"
    shutil.copytree(ROOT, copy, ignore=lambda directory, names: [
        n for n in names if n.startswith(("build", ".git", "__pycache__")) or n.endswith(".db")])
    return copy


def test_a_new_tool_without_its_package_fails(tree_copy):
    script = tree_copy / "tests" / "e2e" / "uses_a_new_tool.py"
    script.write_text('import subprocess\n\n\ndef run():\n    subprocess.run(["frobnicate-strata", "--all"])\n')
    shell = tree_copy / "bench" / "new.sh"
    shell.write_text('#!/bin/sh\nset -e\nif true; then timeout 5 frob-bench-tool -x | sort; fi\n')
    out = check(root=tree_copy)
    assert out.returncode == 1
    assert "program frobnicate-strata (tests/e2e/uses_a_new_tool.py:5): not installed" in out.stdout
    assert "program frob-bench-tool (bench/new.sh:3): not installed" in out.stdout
    assert "TEST_PKGS" in out.stdout and "BENCH_PKGS" in out.stdout


def test_a_listed_package_that_nothing_uses_fails(tree_copy):
    makefile = tree_copy / "Makefile"
    makefile.write_text(makefile.read_text().replace("RUN_PKGS := sqlite3", "RUN_PKGS := sqlite3 tmux", 1))
    out = check(root=tree_copy)
    assert out.returncode == 1
    assert "Makefile RUN_PKGS lists tmux, but nothing `make run` runs uses it" in out.stdout
