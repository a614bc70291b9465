"""Builds a Python asyncio script into a wasio app component with componentize-py.

    python3 -m wasio_asyncio.build app.py -o app.wasm
"""

import argparse
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile

WORLD = "wasio:streams/app"

# Runs componentize-py's command line (its console script's entry point) in this interpreter.
_COMPONENTIZE_PY = "import sys, componentize_py; sys.argv[0] = 'componentize-py'; componentize_py.script()"


def build(script: str, output: str, search: list[str] | None = None) -> None:
    """Writes the component for `script` to `output`; raises SystemExit with a sentence on failure."""
    # componentize-py from this interpreter's environment (the one the package pins, and the one
    # `wasio run` keys its cache on), not whichever `componentize-py` PATH finds first.
    if importlib.util.find_spec("componentize_py") is None:
        raise SystemExit("wasio: componentize-py was not found: install it with `pip install ./python` "
                         "(wasio-asyncio, which pins componentize-py==0.25.1)")
    with open(script, encoding="utf-8") as f:
        source = f.read()
    name = "wasio_app_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, name + ".py"), "w", encoding="utf-8") as f:
            f.write("from wasio_asyncio import _runner\n")
            f.write(f"Run = _runner.load({source!r}, {os.path.basename(script)!r})\n")
        cmd = [sys.executable, "-c", _COMPONENTIZE_PY, "-q", "componentize",
               "-m", f"wasio_asyncio={WORLD}", "-p", tmp,
               "-p", os.path.dirname(os.path.abspath(script))]
        for d in search or []:
            cmd += ["-p", d]
        cmd += [name, "-o", output]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout)
            raise SystemExit(f"wasio: componentize-py could not build {script} (see above)")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m wasio_asyncio.build",
                                description="Build a Python asyncio script into a wasio app component.")
    p.add_argument("script")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("-p", "--python-path", action="append", default=[],
                   help="another directory the script's own modules are imported from")
    a = p.parse_args(argv)
    build(a.script, a.output, a.python_path)


if __name__ == "__main__":
    main()
