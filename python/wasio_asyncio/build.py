"""Builds a Python asyncio script into a wasio app component with componentize-py.

    python3 -m wasio_asyncio.build app.py -o app.wasm
"""

import argparse
import ast
import hashlib
import importlib.metadata
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import tokenize

WORLD = "wasio:streams/app"

# Runs componentize-py's command line (its console script's entry point) in this interpreter.
_COMPONENTIZE_PY = "import sys, componentize_py; sys.argv[0] = 'componentize-py'; componentize_py.script()"


# `_runner.BUILD_ERROR` (not imported: `_runner` needs the bindings only a build has).
_BUILD_ERROR = "wasio-build-error: "


def read_source(script: str) -> str:
    """The script's text, decoded as CPython decodes a source file (UTF-8, a byte order mark,
    or the encoding its coding comment names); SystemExit with a sentence when it cannot be."""
    try:
        with open(script, "rb") as f:
            encoding, _ = tokenize.detect_encoding(f.readline)
            f.seek(0)
            return f.read().decode(encoding)
    except OSError as e:
        raise SystemExit(f"wasio: {script} could not be read: {e.strerror}") from None
    except (SyntaxError, UnicodeDecodeError, LookupError) as e:
        raise SystemExit(f"wasio: {script} cannot be read as Python source: {e}") from None


def _imported_names(source: str) -> "set[str]":
    """The top-level names a module's import statements name (`a` for `import a.b`,
    `from a import b`); relative imports stay inside a package, which is taken whole."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()  # the build reports it if the module is imported
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _package_files(root: str) -> "list[str]":
    """The `.py` files of a package directory, relative to its parent, in a stable order
    (hidden directories, `__pycache__` and symbolic links to directories left out)."""
    parent = os.path.dirname(root)
    found = []
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        found += [os.path.relpath(os.path.join(here, f), parent)
                  for f in sorted(files) if f.endswith(".py")]
    return found


def local_modules(source: str, dirs: "list[str]") -> "list[tuple[str, str]]":
    """The script's own modules: (directory, path relative to it) of each file in `dirs` that
    the script imports by name, directly or through another of them (`NAME.py`, or every `.py`
    file of a package directory `NAME/`). The build copies these, and `wasio run` keys its
    cache on them: never the whole directory, whose other contents (a virtual environment, a
    `.git`, other projects) are not the app's, would make the build walk all of it, and can
    break componentize-py's search (a second `componentize-py.toml` in a virtual environment)."""
    files: "list[tuple[str, str]]" = []
    seen: "set[str]" = set()
    todo = sorted(_imported_names(source))
    while todo:
        name = todo.pop(0)
        if name in seen or not name.isidentifier():
            continue
        seen.add(name)
        for d in dirs:
            found = []
            module = os.path.join(d, name + ".py")
            package = os.path.join(d, name)
            if os.path.isfile(module):
                found.append(name + ".py")
            if (os.path.isdir(package) and not os.path.islink(package)
                    and not os.path.exists(os.path.join(package, "pyvenv.cfg"))):
                found += _package_files(package)
            for rel in found:
                files.append((d, rel))
                try:
                    with tokenize.open(os.path.join(d, rel)) as f:
                        todo += sorted(_imported_names(f.read()) - seen)
                except (OSError, SyntaxError, UnicodeDecodeError):
                    pass  # the build reports it if the module is imported
            if found:
                break  # the first directory that has the name is the one imported from
    return files


def _digest(files: "list[tuple[int, str, bytes]]") -> str:
    h = hashlib.sha256()
    for index, rel, data in files:
        h.update(f"{index}\0{rel}\0{len(data)}\0".encode() + data)
    return h.hexdigest()


def _read_local(source: str, dirs: "list[str]") -> "list[tuple[int, str, bytes]]":
    """`local_modules` with their bytes, each tagged with the index of its directory."""
    out = []
    for d, rel in local_modules(source, dirs):
        try:
            data = pathlib.Path(d, rel).read_bytes()
        except OSError as e:
            raise SystemExit(f"wasio: the script's module {os.path.join(d, rel)} could not be "
                             f"read: {e.strerror}")
        out.append((dirs.index(d), rel, data))
    return out


def identity(source: str, dirs: "list[str]") -> str:
    """What a built component depends on besides the script's bytes, as one line: this
    package's version and files, componentize-py's version, and the script's own modules
    (`local_modules`). `wasio run` keys its cache of built scripts on it."""
    version = (importlib.metadata.version("wasio-asyncio") + "+componentize-py-"
               + importlib.metadata.version("componentize-py"))
    root = pathlib.Path(__file__).parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.suffix in (".py", ".wit", ".toml") and p.parts[len(root.parts)] != "bindings":
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return f"{version}+{h.hexdigest()[:16]}+local-{_digest(_read_local(source, dirs))[:16]}"


def _stage_package(tmp: str) -> dict:
    """Copies this package into `tmp` as the only package of a virtual environment, and returns
    the environment for componentize-py that makes it search that one instead of the host's
    site-packages. componentize-py mounts every directory it searches, writable, while it
    imports the app to build it, and the app's own modules run then: they see copies only."""
    env_dir = os.path.join(tmp, "env")
    site = os.path.join(env_dir, "lib", "site-packages")
    root = pathlib.Path(__file__).parent

    def ignore(directory, names):
        if pathlib.Path(directory) == root / "bindings":
            return [n for n in names if n != "README"]  # generated anew by each build
        return [n for n in names if n == "__pycache__" or n.endswith(".pyc")]

    shutil.copytree(root, os.path.join(site, "wasio_asyncio"), ignore=ignore)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPENV")}
    env["VIRTUAL_ENV"] = env_dir
    return env


def build(script: str, output: str, search: "list[str] | None" = None) -> str:
    """Writes the component for `script` to `output`, with the script's own modules found in
    `search` (default: the script's directory); returns the digest of those modules (as in
    `identity`). Raises SystemExit with a sentence on failure."""
    # componentize-py from this interpreter's environment (the one the package pins, and the one
    # `wasio run` keys its cache on), not whichever `componentize-py` PATH finds first.
    if importlib.util.find_spec("componentize_py") is None:
        raise SystemExit("wasio: componentize-py was not found: install it with `pip install ./python` "
                         "(wasio-asyncio, which pins componentize-py==0.25.1)")
    source = read_source(script)
    if search is None:
        search = [os.path.dirname(os.path.abspath(script))]
    name = "wasio_app_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, name + ".py"), "w", encoding="utf-8") as f:
            f.write("from wasio_asyncio import _runner\n")
            f.write(f"Run = _runner.load({source!r}, {os.path.basename(script)!r})\n")
        env = _stage_package(tmp)
        cmd = [sys.executable, "-P", "-c", _COMPONENTIZE_PY, "-q", "componentize",
               "-m", f"wasio_asyncio={WORLD}", "-p", tmp]
        # The script's own modules, copied: what is built is what the digest covers.
        local = _read_local(source, search)
        for index in range(len(search)):
            staged = os.path.join(tmp, f"local{index}")
            os.mkdir(staged)
            cmd += ["-p", staged]
        for index, rel, data in local:
            path = os.path.join(tmp, f"local{index}", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            pathlib.Path(path).write_bytes(data)
        cmd += [name, "-o", output]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=tmp, env=env)
        if done.returncode != 0:
            for line in done.stdout.splitlines():
                if _BUILD_ERROR in line:  # the script's own error (`_runner.BuildError`)
                    sentence = line.split(_BUILD_ERROR, 1)[1].strip()
                    raise SystemExit(f"wasio: cannot build {os.path.basename(script)}: {sentence}")
            sys.stderr.write(done.stdout)
            raise SystemExit(f"wasio: componentize-py could not build {script} (see above)")
    return _digest(local)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m wasio_asyncio.build",
                                description="Build a Python asyncio script into a wasio app component.")
    p.add_argument("script")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("-p", "--python-path", action="append",
                   help="a directory the script's own modules are imported from (default: the "
                        "script's directory; repeat for more)")
    p.add_argument("--print-digest", action="store_true",
                   help="print the digest of the script's own modules that were built in")
    a = p.parse_args(argv)
    digest = build(a.script, a.output, a.python_path)
    if a.print_digest:
        print(f"local-{digest[:16]}")


if __name__ == "__main__":
    main()
