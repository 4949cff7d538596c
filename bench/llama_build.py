"""Compare two llama-cpp-python builds on this machine: prompt and generation speed of the same GGUF model.

    nice python3 bench/llama_build.py                 # this interpreter vs /work/scratch/llvariants/venv/bin/python
    python3 bench/llama_build.py --python /usr/bin/python3 /path/to/venv/bin/python --rounds 2
    python3 bench/llama_build.py --model ~/.cache/folio/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

Meant for "portable build" (A, what scripts/install.sh installs, CMAKE_ARGS="-DGGML_NATIVE=OFF": one CPU
backend compiled for AVX2) against "runtime-dispatch build" (B, the same version built with
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON": one CPU backend module per
x86-64 level, x64/sse42/sandybridge/haswell/skylakex/icelake/alderlake/sapphirerapids/zen4..., and ggml loads
the best one this CPU supports at run time). Build B into its own virtualenv, never over the main install:

    python3 -m venv /work/scratch/llvariants/venv
    /work/scratch/llvariants/venv/bin/pip install numpy typing-extensions diskcache jinja2
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON" CMAKE_BUILD_PARALLEL_LEVEL=2 \\
        /work/scratch/llvariants/venv/bin/pip install --no-cache-dir --no-binary llama-cpp-python \\
        llama-cpp-python==0.3.36

llama-cpp-python (0.3.36) installs those backend modules in site-packages/bin/ (ggml's CMAKE_INSTALL_BINDIR),
where ggml_backend_load_all() does not look (it searches GGML_BACKEND_DIR if compiled in, the executable's
folder and the current folder), and its bindings never call ggml_backend_load_all_from_path(). So a plain
Llama(...) from such a build fails with "no backends are loaded". The child script below works around it:
when llama_backend_init() leaves no CPU device registered it finds the libggml-cpu-*.so modules
($FOLIO_GGML_BACKEND_DIR, llama_cpp/lib, site-packages/bin) and calls ggml_backend_load_all_from_path(<that
folder>) through ctypes before loading the model (reported as "backend dir"; None means ggml needed no help).
Building with -DGGML_BACKEND_DIR=<site-packages>/llama_cpp/lib as well compiles that search path in instead.

Each measurement runs in a fresh subprocess of the interpreter under test, builds alternating A/B/A/B for
--rounds rounds so that other load on the machine hits both alike. A child loads the model with
Llama(model_path, n_ctx=2048, n_threads=2, verbose=False), evaluates a fixed prompt of --prompt-tokens tokens
(after a short warm-up) and times it, then decodes --gen-tokens tokens greedily one at a time (no stop at EOS)
and times that. The table gives the median tok/s per build over the rounds and the ratio B/A, plus which CPU
backend module each build mapped (from /proc/self/maps) and llama_print_system_info().
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODELS_DIR = Path.home() / ".cache" / "folio" / "models"
DEFAULT_MODELS = ("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
DEFAULT_CANDIDATE = "/work/scratch/llvariants/venv/bin/python"

# Runs inside the interpreter under test: standard library and llama_cpp only. argv[1] is a JSON object.
CHILD = r'''
import ctypes, hashlib, json, os, sys, time
from pathlib import Path

args = json.loads(sys.argv[1])
t_import = time.perf_counter()
import llama_cpp
t_import = time.perf_counter() - t_import


def mapped_libs():
    libs = set()
    with open("/proc/self/maps") as fh:
        for line in fh:
            path = line.split()[-1]
            if "libggml" in path or "libllama" in path:
                libs.add(path)
    return sorted(libs)


def load_dl_backends():
    """For GGML_BACKEND_DL builds: load the CPU backend modules if ggml did not find them by itself."""
    # the libggml.so* that libllama already pulled in (a second copy would get its own, empty registry)
    pkg = Path(llama_cpp.__file__).resolve().parent
    libdir = pkg / "lib"
    ggml_path = next((p for p in mapped_libs() if Path(p).name.startswith("libggml.so")), str(libdir / "libggml.so"))
    ggml = ctypes.CDLL(ggml_path)
    ggml.ggml_backend_dev_by_type.argtypes = [ctypes.c_int]
    ggml.ggml_backend_dev_by_type.restype = ctypes.c_void_p
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load_all_from_path.restype = None
    llama_cpp.llama_backend_init()  # what Llama() does first: ggml_backend_load_all() if nothing is registered
    if ggml.ggml_backend_dev_by_type(0):  # GGML_BACKEND_DEVICE_TYPE_CPU
        return None  # CPU backend linked in, or found on ggml's own search path
    env_dir = os.environ.get("FOLIO_GGML_BACKEND_DIR")
    candidates = [Path(env_dir)] if env_dir else []
    candidates += [libdir, pkg.parent / "bin", Path(sys.prefix) / "bin"]
    for d in candidates:
        if d.is_dir() and any(d.glob("libggml-cpu-*.so")):
            ggml.ggml_backend_load_all_from_path(str(d).encode())
            if ggml.ggml_backend_dev_by_type(0):
                return str(d)
    return "no CPU backend found"


backend_dir = load_dl_backends()
t_load = time.perf_counter()
llm = llama_cpp.Llama(
    model_path=args["model"], n_ctx=args["n_ctx"], n_threads=args["threads"],
    n_threads_batch=args["threads"], verbose=False,
)
t_load = time.perf_counter() - t_load

unit = (
    "Section {i}. The ingest pipeline partitions each document into elements, merges them into chunks of "
    "about four hundred tokens, embeds every chunk and writes the vectors with their text into the index. "
    "Queries are answered by hybrid search over the chunks followed by a local model that cites its sources. "
)
text = "".join(unit.format(i=i) for i in range(40))
tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)[: args["prompt_tokens"]]
if len(tokens) < args["prompt_tokens"]:
    raise SystemExit(f"prompt only {len(tokens)} tokens")

llm.reset()
llm.eval(tokens[:16])  # warm-up: thread pool, first touch of the weights
llm.reset()

t0 = time.perf_counter()
llm.eval(tokens)
t_prompt = time.perf_counter() - t0

out = []
t0 = time.perf_counter()
for _ in range(args["gen_tokens"]):
    tok = llm.sample(top_k=1, temp=0.0)
    out.append(int(tok))
    llm.eval([tok])
t_gen = time.perf_counter() - t0

info = llama_cpp.llama_print_system_info()
print(json.dumps({
    "version": llama_cpp.__version__,
    "llama_cpp": str(Path(llama_cpp.__file__).parent),
    "backend_dir": backend_dir,
    "system_info": info.decode() if isinstance(info, bytes) else str(info),
    "cpu_libs": [Path(p).name for p in mapped_libs() if "ggml-cpu" in p],
    "import_s": t_import,
    "load_s": t_load,
    "prompt_tokens": len(tokens),
    "prompt_s": t_prompt,
    "gen_tokens": len(out),
    "gen_s": t_gen,
    "gen_sha": hashlib.sha256(json.dumps(out).encode()).hexdigest()[:12],
}))
'''


def run_child(python: str, params: dict, timeout: float) -> dict:
    proc = subprocess.run(
        [python, "-c", CHILD, json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",  # so that ggml's current-folder search finds nothing by accident
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        return {"error": f"exit {proc.returncode}: {tail}"}
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"unparsable child output: {lines[-1][:300]}"}


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def summarize(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {}
    pp = [r["prompt_tokens"] / r["prompt_s"] for r in ok]
    tg = [r["gen_tokens"] / r["gen_s"] for r in ok]
    return {
        "pp": statistics.median(pp),
        "pp_range": (min(pp), max(pp)),
        "tg": statistics.median(tg),
        "tg_range": (min(tg), max(tg)),
        "load": statistics.median(r["load_s"] for r in ok),
        "n": len(ok),
        "first": ok[0],
        "gen_sha": sorted({r["gen_sha"] for r in ok}),
    }


def cpu_flags() -> str:
    try:
        flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")).split()
    except (OSError, StopIteration):
        return "?"
    keep = [f for f in flags if f.startswith(("avx", "amx")) or f in ("fma", "f16c", "bmi2")]
    return " ".join(sorted(set(keep)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--python",
        nargs=2,
        metavar=("A", "B"),
        default=[sys.executable, DEFAULT_CANDIDATE],
        help="the two interpreters to compare (default: this one and %(default)s)",
    )
    ap.add_argument("--model", action="append", type=Path, help="GGUF file(s); default: the Qwen2.5-Coder 1.5B/0.5B")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prompt-tokens", type=int, default=600)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per child run")
    ap.add_argument("--json", type=Path, help="also write all runs here")
    args = ap.parse_args()

    models = args.model or [MODELS_DIR / name for name in DEFAULT_MODELS if (MODELS_DIR / name).exists()]
    if not models:
        print(f"no model found in {MODELS_DIR}; pass --model", file=sys.stderr)
        return 2
    for py in args.python:
        if not Path(py).exists():
            print(f"interpreter not found: {py}", file=sys.stderr)
            return 2
    labels = ["A", "B"]
    print(f"CPU flags: {cpu_flags()}")
    for label, py in zip(labels, args.python):
        print(f"{label}: {py}")

    runs: dict[tuple[str, str], list[dict]] = {}
    for rnd in range(1, args.rounds + 1):
        for model in models:
            for label, py in zip(labels, args.python):
                params = {
                    "model": str(model),
                    "n_ctx": args.n_ctx,
                    "threads": args.threads,
                    "prompt_tokens": args.prompt_tokens,
                    "gen_tokens": args.gen_tokens,
                }
                la = loadavg()
                t0 = time.perf_counter()
                res = run_child(py, params, args.timeout)
                res["loadavg"] = la
                runs.setdefault((model.name, label), []).append(res)
                if "error" in res:
                    print(f"round {rnd} {model.name} {label}: FAILED {res['error']}", flush=True)
                    continue
                print(
                    f"round {rnd} {model.name} {label}: prompt {res['prompt_tokens'] / res['prompt_s']:7.1f} tok/s  "
                    f"gen {res['gen_tokens'] / res['gen_s']:6.2f} tok/s  load {res['load_s']:.2f}s  "
                    f"[{', '.join(res['cpu_libs'])}]  loadavg {la}  ({time.perf_counter() - t0:.0f}s)",
                    flush=True,
                )

    print()
    for label in labels:
        s = summarize([r for (_, lb), rs in runs.items() if lb == label for r in rs])
        if not s:
            errs = {r["error"] for (_, lb), rs in runs.items() if lb == label for r in rs}
            print(f"{label}: every run failed: {sorted(errs)[0]}")
            continue
        first = s["first"]
        print(f"{label}: llama-cpp-python {first['version']} at {first['llama_cpp']}")
        print(f"   CPU backend module(s): {', '.join(first['cpu_libs']) or '?'}  backend dir: {first['backend_dir']}")
        print(f"   system info: {first['system_info'].strip()}")
    print()
    header = (
        f"{'model':<42} {'build':<5} {'prompt tok/s':>13} {'(min-max)':>15} {'gen tok/s':>10} {'(min-max)':>13} "
        f"{'load s':>7} {'runs':>4}"
    )
    print(header)
    print("-" * len(header))
    for model in models:
        sums = {label: summarize(runs.get((model.name, label), [])) for label in labels}
        for label in labels:
            s = sums[label]
            if not s:
                print(f"{model.name:<42} {label:<5} {'failed':>13}")
                continue
            print(
                f"{model.name:<42} {label:<5} {s['pp']:13.1f} {s['pp_range'][0]:7.1f}-{s['pp_range'][1]:<7.1f} "
                f"{s['tg']:10.2f} {s['tg_range'][0]:6.2f}-{s['tg_range'][1]:<6.2f} {s['load']:7.2f} {s['n']:4d}"
            )
        a, b = sums["A"], sums["B"]
        if a and b:
            same = "same" if a["gen_sha"] == b["gen_sha"] and len(a["gen_sha"]) == 1 else "DIFFERENT"
            print(
                f"{'':<42} {'B/A':<5} {b['pp'] / a['pp']:13.2f} {'':>15} {b['tg'] / a['tg']:10.2f} {'':>13} "
                f"  greedy output {same}"
            )
    if args.json:
        args.json.write_text(
            json.dumps({"python": args.python, "runs": {f"{m}|{lb}": rs for (m, lb), rs in runs.items()}}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
