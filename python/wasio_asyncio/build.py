"""Builds a Python asyncio script into a wasio app component with componentize-py.

    python3 -m wasio_asyncio.build app.py -o app.wasm
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

WORLD = "wasio:streams/app"


def build(script: str, output: str, search: list[str] | None = None) -> None:
    """Writes the component for `script` to `output`; raises SystemExit with a sentence on failure."""
    exe = shutil.which("componentize-py")
    if exe is None:
        raise SystemExit("wasio: componentize-py was not found: install it with `pip install ./python` "
                         "(wasio-asyncio, which pins componentize-py==0.25.1)")
    with open(script, encoding="utf-8") as f:
        source = f.read()
    name = "wasio_app_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, name + ".py"), "w", encoding="utf-8") as f:
            f.write("from wasio_asyncio import _runner\n")
            f.write(f"Run = _runner.load({source!r}, {os.path.basename(script)!r})\n")
        cmd = [exe, "-q", "componentize", "-m", f"wasio_asyncio={WORLD}", "-p", tmp,
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
