#!/usr/bin/python3
"""check_deps: every external thing the project uses comes from a package the Makefile installs.

`make test` runs this first. It derives, from the code, what each Makefile command
(`make build`, `run`, `test`, `bench`, `fuzz`) uses from outside the repository, finds the Debian
package that provides each thing on this machine (`dpkg -S`), and fails when
  - a thing is not installed at all (its package was never installed: a fresh machine would fail), or
  - its package is neither in that command's package list in the Makefile nor pulled in by one
    (a machine passes only because someone installed the package by hand), or
  - a package in a command's list is used by nothing that command runs (a user would install it
    for nothing).

What counts as "used", and where it is found:
  programs   the first element of an argv list given to subprocess.* / os.exec* / Popen, and
             shutil.which("x") (Python); absolute paths such as "/usr/bin/psql" (Python constants);
             the command words of shell scripts and Makefile recipes, including "$..BIN/name" forms,
             CC=/CXX= prefixes and what timeout/taskset/runuser/command -v run; C++ constants named
             k...Program ("constexpr char kGnuplotProgram[] = "gnuplot";"); CMake's find_program,
             find_package(PkgConfig) and the project's C/C++ compilers; #! interpreters.
  modules    every Python `import` (a module of the repository itself excepted).
  headers    every `#include <...>` of the C++ sources, looked up where the compiler looks.
  libraries  CMake's pkg_check_modules and find_package, and the libFuzzer runtime that
             -fsanitize=fuzzer links.
Each file belongs to the commands that run it (SCOPES below, longest prefix wins).

Usage: tests/check_deps.py [--root DIR] [--drop PKG ...] [--verbose]
  --drop PKG removes PKG from every list (to show that the check catches a missing package).
Exit status: 0 all good, 1 problems found (each printed on one line), 2 cannot run the check.
"""
import argparse
import ast
import functools
import glob
import os
import pathlib
import re
import shutil
import subprocess
import sys

# Which Makefile commands run the files under each path prefix (longest prefix wins).
SCOPES = {
    "": ("build",),
    "protocol/": ("run", "test", "bench", "fuzz"),  # the fuzz build compiles the parser and the JSON reader
    "loaders/json": ("run", "test", "bench", "fuzz"),
    "storage/": ("run", "test", "bench"),
    "loaders/": ("run", "test", "bench"),
    "server/": ("run", "test", "bench"),
    "conf/": ("run",),
    "tests/": ("test",),
    "tests/fuzz/": ("fuzz",),
    "tests/pg_harness/": ("test", "bench"),  # bench/cold_storm.py starts PostgreSQL with it too
    "bench/": ("bench",),
    "bench/strata_bench/": ("test", "bench"),  # the e2e tests run strata-bench too
    "bench/strata_bench/latency_plot": ("test",),  # --plot: the e2e tests draw; make bench does not
}
# Makefile targets whose recipes belong to each command (the deps targets install, they are not checked).
TARGET_SCOPES = {
    "build": ("build",), "all": ("build",), "run": ("run",), "test": ("test",), "unit": ("test",),
    "e2e": ("test",), "asan": ("test",), "check-deps": ("test",), "fuzz": ("fuzz",), "bench": ("bench",),
}
# What each command runs besides its own recipe: run, test and bench build first, and `make test`
# ends with `make fuzz`. A command's packages are its own list plus those of what it includes.
INCLUDES = {"build": (), "run": ("build",), "test": ("build", "fuzz"), "bench": ("build",), "fuzz": ()}

SHELL_WORDS = set("""
    if then else elif fi case esac for while until do done in function select time
    ! { } [[ ]] [ test echo printf read cd exit return set unset export local shift trap wait
    exec eval source . true false : break continue command type getopts umask kill declare
    readonly let pushd popd printf alias
""".split())
SPAWN_CALLS = {"run", "Popen", "call", "check_call", "check_output", "execv", "execvp", "execl", "execlp",
               "spawnv", "spawnvp"}
EXTRA_PROGRAM_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)


class Usage:
    """One external thing one file uses, for some commands."""

    def __init__(self, kind, name, where, scopes, path=None):
        self.kind, self.name, self.where, self.scopes, self.path = kind, name, where, tuple(scopes), path

    def __str__(self):
        return f"{self.kind} {self.name} ({self.where})"


def scopes_of(relpath):
    best = ""
    for prefix in SCOPES:
        if relpath.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return SCOPES[best]


# ------------------------------------------------------------------------------------------------
# Finding what the code uses

def python_usages(path, rel, constants):
    tree = ast.parse(path.read_text(), str(path))
    usages = []

    def resolve(node, local_lists):
        """The string a node stands for, following names and str()/Path() wrappers; None if unknown."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in local_lists:
                return None
            return constants.get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str" and node.args:
            return resolve(node.args[0], local_lists)
        return None

    def argv_program(node, local_lists, lineno):
        if isinstance(node, ast.Name) and node.id in local_lists:
            node = local_lists[node.id]
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
            # Unknown elements ("str(core)", "*argv") read as shell variables would: values.
            tokens = [resolve(e, local_lists) or "$_" for e in node.elts]
            for program in program_words(tokens):
                if not program.startswith("$"):
                    usages.append(Usage("program", program, f"{rel}:{lineno}", scopes_of(rel)))

    for scope_node in [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        local_lists = {}
        for node in ast.walk(scope_node):
            if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        local_lists[target.id] = node.value
        for node in ast.walk(scope_node):
            if not isinstance(node, ast.Call) or scope_node is not tree and node not in ast.walk(scope_node):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in SPAWN_CALLS and node.args:
                argv_program(node.args[0], local_lists, node.lineno)
            if name == "which" and node.args:
                program = resolve(node.args[0], local_lists)
                if program:
                    usages.append(Usage("program", program, f"{rel}:{node.lineno}", scopes_of(rel)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                usages.append(Usage("module", alias.name.split(".")[0], f"{rel}:{node.lineno}", scopes_of(rel)))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            usages.append(Usage("module", node.module.split(".")[0], f"{rel}:{node.lineno}", scopes_of(rel)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(
                r"/(usr/)?s?bin/[\w.+-]+", node.value):
            usages.append(Usage("program", node.value, f"{rel}:{node.lineno}", scopes_of(rel)))
    # Program found twice on one line (an absolute path in an argv): keep one.
    unique = {}
    for u in usages:
        unique.setdefault((u.kind, u.name, u.where), u)
    return list(unique.values())


def python_constants(files):
    """Module-level NAME = "string" assignments of every Python file (names are shared by import)."""
    constants = {}
    for path in files:
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        constants[target.id] = node.value.value
    return constants


def simple_commands(text):
    """The simple commands of a line of shell, each as its list of words (quotes removed), including
    those inside $(...) and `...`. Quoted text is one word; comments, arithmetic and case patterns are
    not commands."""
    commands = []

    def parse(i, closing):
        current, word, in_word, dq = [], "", False, False

        def end_word():
            nonlocal word, in_word
            if in_word:
                current.append(word)
            word, in_word = "", False

        def end_command():
            end_word()
            if current:
                commands.append(list(current))
            current.clear()

        while i < len(text):
            c = text[i]
            if dq:
                if c == "\\":
                    word += text[i:i + 2]
                    i += 2
                    continue
                if c == '"':
                    dq = False
                elif text.startswith("$((", i):
                    end = text.find("))", i)
                    i = len(text) if end < 0 else end + 2
                    continue
                elif text.startswith("$(", i):
                    i = parse(i + 2, ")")
                    word += "$_"
                    continue
                else:
                    word += c
                i += 1
                continue
            if c == "\\":
                word, in_word = word + text[i + 1:i + 2], True
                i += 2
            elif c == "'":
                end = text.find("'", i + 1)
                word, in_word = word + text[i + 1:end if end >= 0 else len(text)], True
                i = len(text) if end < 0 else end + 1
            elif c == '"':
                dq, in_word = True, True
                i += 1
            elif c == "#" and not in_word:
                break
            elif text.startswith("$((", i) or (text.startswith("((", i) and not in_word):
                end = text.find("))", i)
                if c == "$":  # arithmetic expansion is a value; an (( )) command runs nothing
                    word, in_word = word + "0", True
                i = len(text) if end < 0 else end + 2
            elif text.startswith("$(", i) or c == "`":
                i = parse(i + 2 if c == "$" else i + 1, ")" if c == "$" else "`")
                word, in_word = word + "$_", True
            elif c == closing:
                end_command()
                return i + 1
            elif c == ")":
                current.clear()  # a case pattern, "start)": not a command
                word, in_word = "", False
                i += 1
            elif c in "<>" or (c.isdigit() and not in_word and text[i + 1:i + 2] in ("<", ">")):
                end_word()
                m = re.match(r"\d*[<>]+&?\d*-?\s*", text[i:])
                i += m.end()
                target = re.match(r'[^\s;|&)]*', text[i:])
                i += target.end()  # the redirection's file is not a command word
            elif c in ";|&(" or c.isspace():
                if c.isspace():
                    end_word()
                else:
                    end_command()
                i += 1
            else:
                word, in_word = word + c, True
                i += 1
        end_command()
        return i

    parse(0, None)
    return commands


WRAPPERS = {"exec", "timeout", "command", "nice", "sudo", "env", "taskset", "runuser", "then", "do", "else",
            "elif", "if", "while", "until", "!", "time"}


def shell_command_words(line, functions=()):
    """The programs a line of shell runs: the first word of each simple command, looking through
    VAR=value prefixes (CC=clang runs clang), wrappers such as timeout, taskset and runuser, and the
    script's own functions called with a program ("as_server_user "$PG_BIN/pg_ctl" ...")."""
    words = []
    for tokens in simple_commands(line):
        if tokens and tokens[0] in functions and len(tokens) > 1 and re.search(r"BIN\}?/|^/(usr/)?s?bin/", tokens[1]):
            words.append(tokens[1])
        words += program_words(tokens)
    return words


def program_words(tokens):
    """The programs one simple command (its words) runs."""
    words = []
    tokens = list(tokens)
    if True:
        while tokens:
            env = re.match(r"^(\w+)=(\S*)$", tokens[0])
            if env:
                if env.group(1) in ("CC", "CXX") and env.group(2):
                    words.append(env.group(2))
                tokens.pop(0)
                continue
            if tokens[0] in WRAPPERS:
                wrapper = tokens.pop(0)
                if wrapper not in ("then", "do", "else", "elif", "if", "while", "until", "!", "exec", "time"):
                    words.append(wrapper)
                if wrapper == "command" and tokens and tokens[0] == "-v" and len(tokens) > 1:
                    words.append(tokens[1])  # `command -v x` looks for x: the script needs it
                    tokens = []
                    break
                # Its options (and their values: "-c 0", "-u postgres --") and timeout's duration come
                # before the program.
                while tokens and tokens[0].startswith("-"):
                    option = tokens.pop(0)
                    if option == "--":
                        break
                    if option in ("-c", "-u", "-s", "-k", "-g") and tokens:
                        tokens.pop(0)
                if wrapper == "timeout" and tokens:
                    tokens.pop(0)
                continue
            break
        if tokens:
            words.append(tokens[0])
    return words


def program_of_shell_word(word, functions):
    if not word or word in SHELL_WORDS or word in functions or word.startswith("-") or "=" in word:
        return None
    if word.startswith("$") or word.startswith("@"):
        # "$PG_BIN/pg_ctl" and "$(BUILD)/strata-server": a program named by its directory; only
        # directories outside the repository (not the build) are someone else's programs.
        tail = word.rsplit("/", 1)
        if len(tail) == 2 and re.search(r"BIN\}?$", tail[0]) and re.fullmatch(r"[\w.+-]+", tail[1]):
            return tail[1]
        return None
    if "/" in word and not word.startswith("/"):
        return None  # a path inside the repository: its own files are scanned where they live
    if word.startswith("/") and not re.match(r"/(usr/)?s?bin/", word):
        return None
    if not re.fullmatch(r"[\w./+-]+", word):
        return None
    return word


def shell_usages(path, rel, lines=None, scopes=None, first_line=1):
    text_lines = lines if lines is not None else path.read_text().splitlines()
    functions = {m.group(1) for m in (re.match(r"^\s*([\w-]+)\s*\(\)", l) for l in text_lines) if m}
    usages = []
    joined, start = "", None
    for number, raw in enumerate(text_lines, first_line):
        if start is None:
            start = number
        if raw.rstrip().endswith("\\"):
            joined += raw.rstrip()[:-1] + " "
            continue
        joined += raw
        for word in shell_command_words(joined, functions):
            program = program_of_shell_word(word, functions)
            if program:
                usages.append(Usage("program", program, f"{rel}:{start}", scopes or scopes_of(rel)))
        joined, start = "", None
    return usages


def makefile_recipes(path):
    """(target, first line number, recipe lines) for each rule of the Makefile."""
    rules, target, lines, first = [], None, [], 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        if raw.startswith("\t"):
            if target is not None:
                if not lines:
                    first = number
                lines.append(raw[1:].lstrip("@-"))
            continue
        if target is not None and lines:
            rules.append((target, first, lines))
        target, lines = None, []
        m = re.match(r"^([\w$().-][\w$()./-]*)\s*:(?!=)", raw)
        if m:
            target = m.group(1)
    if target is not None and lines:
        rules.append((target, first, lines))
    return rules


def makefile_usages(root):
    usages = [Usage("program", "make", "Makefile", ("build", "fuzz"))]
    for target, first, lines in makefile_recipes(root / "Makefile"):
        scopes = TARGET_SCOPES.get(target)
        if scopes is None and target.endswith("CMakeCache.txt"):
            scopes = ("fuzz",) if "FUZZ" in target else ("build", "test") if "ASAN" in target else ("build",)
        if scopes is None:
            continue
        # $(PYTHON) and friends: the Makefile's variables as they are set at the top.
        variables = dict(re.findall(r"^(\w+)\s*:?=\s*(\S+)\s*$", (root / "Makefile").read_text(), re.M))
        expanded = [re.sub(r"(?<!\$)\$\((\w+)\)", lambda m: variables.get(m.group(1), "${" + m.group(1) + "}"), l)
                    for l in lines]
        # Make functions ($(abspath x)) are values, not commands; $$ is the shell's $.
        expanded = [re.sub(r"(?<!\$)\$\(\w+ [^()]*\)", "${MAKEFN}", l).replace("$$", "$") for l in expanded]
        usages += shell_usages(root / "Makefile", "Makefile", expanded, scopes, first)
    return usages


def cxx_usages(path, rel):
    text = path.read_text()
    usages = []
    for number, line in enumerate(text.splitlines(), 1):
        m = re.match(r'\s*#\s*include\s*<([^>]+)>', line)
        if m:
            usages.append(Usage("header", m.group(1), f"{rel}:{number}", scopes_of(rel)))
    # A program C++ code runs is named by a constant: constexpr ... kGnuplotProgram = "gnuplot";
    for number, line in enumerate(text.splitlines(), 1):
        for program in re.findall(r'\bk\w*Program\s*=\s*"([\w.+/-]+)"', line):
            usages.append(Usage("program", program, f"{rel}:{number}", scopes_of(rel)))
    return usages


def cmake_usages(path, rel):
    text = path.read_text()
    usages = []
    # The fuzz build reads the top-level file up to its early return(), then protocol/ and tests/fuzz/.
    fuzz_until = text.find("return()") if rel == "CMakeLists.txt" else len(text) if rel.startswith(
        ("protocol/", "tests/fuzz/")) else -1

    def line_of(offset):
        return f"{rel}:{text.count(chr(10), 0, offset) + 1}"

    def scopes_at(offset):
        if rel.startswith("tests/fuzz/"):
            return ("fuzz",)
        return ("build", "fuzz") if offset < fuzz_until else ("build",)

    for m in re.finditer(r"pkg_check_modules\(\s*\w+([^)]*)\)", text):
        modules = [w for w in m.group(1).split() if w not in ("REQUIRED", "IMPORTED_TARGET", "GLOBAL", "QUIET")]
        for module in modules:
            usages.append(Usage("pkg-config module", module, line_of(m.start()), scopes_at(m.start())))
    for m in re.finditer(r"find_package\(\s*(\w+)", text):
        name = m.group(1)
        if name == "PkgConfig":
            usages.append(Usage("program", "pkg-config", line_of(m.start()), scopes_at(m.start())))
        elif name != "Threads":
            usages.append(Usage("cmake package", name, line_of(m.start()), scopes_at(m.start())))
    for m in re.finditer(r"find_library\(\s*\w+\s+(?:NAMES\s+)?([\w.+-]+)", text):
        usages.append(Usage("library", m.group(1), line_of(m.start()), scopes_at(m.start())))
    for m in re.finditer(r"find_program\(\s*\w+\s+(?:NAMES\s+)?([\w.+-]+)", text):
        usages.append(Usage("program", m.group(1), line_of(m.start()), scopes_at(m.start())))
    for m in re.finditer(r"project\([^)]*\bLANGUAGES\b([^)]*)\)", text):
        for language, compiler in (("C", "cc"), ("CXX", "c++")):
            if language in m.group(1).split():
                usages.append(Usage("program", compiler, line_of(m.start()), ("build",)))  # fuzz: CXX=clang++
    if "-fsanitize=fuzzer" in text:
        at = text.index("-fsanitize=fuzzer")
        usages.append(Usage("library", "libclang_rt.fuzzer", line_of(at), scopes_at(at)))
    return usages


def collect_usages(root):
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts
             and not any(part.startswith("build") for part in p.relative_to(root).parts[:1])
             and "corpus" not in p.parts]
    rel = lambda p: str(p.relative_to(root))
    py_files = [p for p in files if p.suffix == ".py"]
    constants = python_constants(py_files)
    usages = makefile_usages(root)
    for p in files:
        r = rel(p)
        if p.suffix == ".py":
            usages += python_usages(p, r, constants)
        elif p.suffix == ".sh" or (p.suffix == "" and p.read_bytes()[:2] == b"#!" and b"python" not in p.read_bytes()[:40]):
            usages += shell_usages(p, r)
        elif p.suffix in (".cc", ".h", ".cpp", ".c"):
            usages += cxx_usages(p, r)
        elif p.name == "CMakeLists.txt":
            usages += cmake_usages(p, r)
        if p.read_bytes()[:2] == b"#!":
            interpreter = p.read_text(errors="replace").splitlines()[0][2:].split()
            if interpreter and interpreter[0] == "/usr/bin/env" and len(interpreter) > 1:
                interpreter = interpreter[1:]
            if interpreter:
                usages.append(Usage("program", interpreter[0], f"{r}:1", scopes_of(r)))
    return usages


# ------------------------------------------------------------------------------------------------
# Finding what provides it

@functools.lru_cache(maxsize=None)
def dpkg_file_owners():
    """Every file path dpkg installed, mapped to its package (read from dpkg's own lists once)."""
    owners = {}
    for listing in glob.glob("/var/lib/dpkg/info/*.list"):
        package = os.path.basename(listing)[:-len(".list")].split(":")[0]
        with open(listing, errors="replace") as f:
            for line in f:
                owners.setdefault(line.rstrip("\n"), package)
    return owners


def package_of_path(path):
    """The Debian package that installed `path` (following symlinks and alternatives), or None."""
    owners = dpkg_file_owners()
    for candidate in (path, os.path.realpath(path)):
        # dpkg records /bin/x for what usrmerge moved to /usr/bin/x, and the other way round.
        alternate = candidate[4:] if candidate.startswith("/usr/") else "/usr" + candidate
        for name in (candidate, alternate):
            if name in owners:
                return owners[name]
    return None


@functools.lru_cache(maxsize=None)
def include_dirs():
    out = subprocess.run(["c++", "-xc++", "-std=c++20", "-E", "-v", "/dev/null"], capture_output=True, text=True)
    dirs, inside = [], False
    for line in out.stderr.splitlines():
        if line.startswith("#include <...>"):
            inside = True
        elif line.startswith("End of search list"):
            inside = False
        elif inside:
            dirs.append(line.strip())
    for module in ("libpq", "lua5.1-c++"):
        flags = subprocess.run(["pkg-config", "--cflags-only-I", module], capture_output=True, text=True).stdout
        dirs += [f[2:] for f in flags.split() if f.startswith("-I")]
    return dirs


def locate(usage, root):
    """The file on this machine that is the thing used, or None if it is not there."""
    kind, name = usage.kind, usage.name
    if kind == "program":
        if name.startswith("/"):
            return name if os.path.exists(name) else None
        found = shutil.which(name)
        if found is None:
            for directory in EXTRA_PROGRAM_DIRS:
                if os.access(os.path.join(directory, name), os.X_OK):
                    return os.path.join(directory, name)
        return found
    if kind == "module":
        if (root / f"{name}.py").exists() or any(root.rglob(f"{name}.py")):
            return "repository"
        out = subprocess.run(["/usr/bin/python3", "-c", f"import importlib.util as u; s = u.find_spec({name!r}); "
                              "print(s.origin if s and s.origin not in (None, 'built-in', 'frozen') else 'built-in' if s else '')"],
                             capture_output=True, text=True)
        origin = out.stdout.strip()
        return origin or None
    if kind == "header":
        if (root / name).exists() or any((root / d / name).exists() for d in ("protocol", "storage", "loaders", "server")):
            return "repository"
        for directory in include_dirs():
            if os.path.exists(os.path.join(directory, name)):
                return os.path.join(directory, name)
        return None
    if kind == "pkg-config module":
        out = subprocess.run(["pkg-config", "--variable=pcfiledir", name], capture_output=True, text=True)
        pcdir = out.stdout.strip()
        return os.path.join(pcdir, f"{name}.pc") if out.returncode == 0 and pcdir else None
    if kind == "cmake package":
        for pattern in (f"/usr/lib/*/cmake/{name}/{name}Config.cmake", f"/usr/lib/*/cmake/{name}*/*onfig.cmake",
                        f"/usr/lib/cmake/{name}/{name}Config.cmake", f"/usr/share/cmake/{name}/*onfig.cmake",
                        f"/usr/lib/*/cmake/{name.lower()}*/*onfig.cmake"):
            hits = glob.glob(pattern)
            if hits:
                return hits[0]
        return None
    if kind == "library" and name != "libclang_rt.fuzzer":
        hits = glob.glob(f"/usr/lib/*/{name}") + glob.glob(f"/usr/lib/{name}")
        return hits[0] if hits else None
    if kind == "library" and name == "libclang_rt.fuzzer":
        clang = shutil.which("clang")
        if clang is None:
            return None
        out = subprocess.run([clang, "--print-file-name=libclang_rt.fuzzer-x86_64.a"], capture_output=True, text=True)
        path = out.stdout.strip()
        return path if os.path.isabs(path) and os.path.exists(path) else None
    return None


# ------------------------------------------------------------------------------------------------
# What the Makefile installs

def makefile_packages(root):
    out = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(root), "print-packages"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"check_deps: `make print-packages` failed: {out.stderr.strip()}")
    lists = {}
    for line in out.stdout.splitlines():
        name, _, packages = line.partition(":")
        lists[name.strip()] = packages.split()
    return lists


@functools.lru_cache(maxsize=None)
def dpkg_status():
    """Installed packages: name -> (depends, provides, base), where base means every Debian system has
    it (Essential, or Priority required)."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Status}\t${Depends}, ${Pre-Depends}\t${Provides}"
                          "\t${Essential}\t${Priority}\n"], capture_output=True, text=True)
    status = {}
    for line in out.stdout.splitlines():
        name, state, depends, provides, essential, priority = (line.split("\t") + [""] * 6)[:6]
        if "install ok installed" not in state:
            continue
        names = lambda text: [a.strip().split(" ")[0].split(":")[0] for a in re.split(r"[,|]", text) if a.strip()]
        status[name] = (names(depends), names(provides), essential == "yes" or priority == "required")
    return status


@functools.lru_cache(maxsize=None)
def closure(packages):
    """The packages (a tuple) and everything they depend on, recursively (as installed here)."""
    status = dpkg_status()
    providers = {}
    for name, (_, provides, _) in status.items():
        for virtual in provides:
            providers.setdefault(virtual, []).append(name)
    seen, todo = set(), list(packages)
    while todo:
        package = todo.pop()
        if package in seen:
            continue
        seen.add(package)
        for dependency in status.get(package, ((), (), False))[0]:
            todo.append(dependency)
            todo.extend(providers.get(dependency, ()))
    return frozenset(seen)


def base_system():
    return frozenset(name for name, (_, _, base) in dpkg_status().items() if base)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parents[1]))
    parser.add_argument("--drop", action="append", default=[], help="remove this package from every list")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    root = pathlib.Path(args.root).resolve()
    if shutil.which("dpkg") is None:
        sys.exit("check_deps: needs dpkg (a Debian machine)")

    lists = makefile_packages(root)
    for name in lists:
        lists[name] = [p for p in lists[name] if p not in args.drop]
    scope_packages = {scope: set(lists.get(scope, [])).union(*(lists.get(i, []) for i in included))
                      for scope, included in INCLUDES.items()}
    scope_closure = {scope: closure(tuple(sorted(packages))) | base_system() for scope, packages in scope_packages.items()}

    problems, used_by = [], {scope: set() for scope in scope_packages}
    for usage in collect_usages(root):
        path = locate(usage, root)
        if path in ("repository", "built-in"):
            continue
        if path is None:
            problems.append(f"{usage}: not installed, so no package the Makefile installs provides it: add its Debian package to "
                            f"{' or '.join(s.upper() + '_PKGS' for s in usage.scopes)}")
            continue
        package = package_of_path(path)
        if package is None:
            if path.startswith(str(root)):
                continue
            problems.append(f"{usage}: {path} belongs to no Debian package (installed by hand?)")
            continue
        if args.verbose:
            print(f"{usage} -> {path} -> {package}")
        for scope in usage.scopes:
            if package not in scope_closure[scope]:
                problems.append(f"{usage}: comes from Debian package {package}, which `make {scope}` does not "
                                f"install (add it to {scope.upper()}_PKGS in the Makefile)")
            used_by[scope].add(package)
    for scope, included in INCLUDES.items():
        for other in included:
            used_by[scope] |= used_by[other]
    # Every listed package is there for something its command uses.
    for name, packages in lists.items():
        scopes = [name] if name != "build" else ["build"]
        for package in packages:
            covered = any(package == used or used in closure((package,)) for scope in scopes for used in used_by[scope])
            if not covered:
                problems.append(f"Makefile {name.upper()}_PKGS lists {package}, but nothing `make {name}` runs uses it")
    for problem in sorted(set(problems)):
        print(f"check_deps: {problem}")
    if problems:
        print(f"check_deps: {len(set(problems))} problem(s); see tests/check_deps.py for what is checked")
        return 1
    print(f"check_deps: every program, module, header and library used comes from the Makefile's package lists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
