"""Does the README's quickstart work? Runs it for several seeds and collects its own figures.

Each seed runs exactly the README's first command, ``python train/train.py --out ...``
(the CLI defaults: the quickstart recipe on scikit-learn's digits), with ``--seed`` added,
in a fresh process, and reads back the run's ``summary.json``: the share of samples the
real-digits classifier labels with confidence >= 0.9 (next to the held-out real share),
the classes present, the class KL to uniform, D's accuracies in the last epoch and the
training seconds. The targets (issue 17): confident share >= 90 % of the real share,
10 of 10 classes, class KL <= 0.05, on every seed.

    python benchmarks/quickstart.py                       # seeds 0,1,2
    python benchmarks/quickstart.py --seeds 3,4 --threads 1 --name more-seeds
    python benchmarks/quickstart.py --name try -- --epochs 60   # extra train.py flags

Writes ``benchmarks/results/<name>/`` (git-ignored): one run folder per seed,
``results.json`` (every figure, the commands, the machine) and ``summary.md`` (the table).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(REPO, "train", "train.py")
SHARE_OF_REAL = 0.9  # confident share must reach 90 % of the held-out real share
MAX_KL = 0.05
NUM_CLASSES = 10


def run_seed(seed, out, extra, threads):
    """Runs the quickstart command for one seed; returns its record."""
    cmd = [sys.executable, TRAIN, "--out", out, "--seed", str(seed), "--overwrite",
           "--verbose", "2", *extra]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if threads:
        env.update(TF_NUM_INTEROP_THREADS="1", TF_NUM_INTRAOP_THREADS=str(threads))
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.time() - t0
    with open(os.path.join(out + ".log"), "w") as f:
        f.write(r.stdout + "\n--- stderr ---\n" + r.stderr)
    if r.returncode != 0:
        raise RuntimeError(f"seed {seed} failed (rc {r.returncode}):\n{r.stderr[-3000:]}")
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    q, m = s["quality"], s["final_metrics"]
    rec = {
        "seed": seed,
        "confident_share": q["confident_share"],
        "real_confident_share": q["real_confident_share"],
        "share_of_real": q["confident_share"] / q["real_confident_share"],
        "classes_present": q["classes_present"],
        "class_kl": q["class_kl"],
        "class_histogram": q["class_histogram"],
        "d_acc_real": m.get("d_acc_real"), "d_acc_fake": m.get("d_acc_fake"),
        "g_loss": m.get("g_loss"), "d_loss": m.get("d_loss"),
        "steps": s["steps"], "train_seconds": s["train_seconds"], "wall_seconds": round(wall, 1),
        "sampled_network": s.get("sampled_network"),
        "command": " ".join(["python", "train/train.py"] + cmd[2:]),
        "config": config,
    }
    rec["target_met"] = bool(rec["share_of_real"] >= SHARE_OF_REAL
                             and rec["classes_present"] == NUM_CLASSES and rec["class_kl"] <= MAX_KL)
    return rec


def table(records):
    """The markdown table of the per-seed records."""
    lines = ["| seed | confident % (real %) | of real | classes | class KL | D acc real / fake "
             "(last epoch) | steps | train s | target |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(
            f"| {r['seed']} | {100 * r['confident_share']:.1f} ({100 * r['real_confident_share']:.1f}) "
            f"| {100 * r['share_of_real']:.1f} % | {r['classes_present']} | {r['class_kl']:.3f} "
            f"| {r['d_acc_real']:.3f} / {r['d_acc_fake']:.3f} | {r['steps']} "
            f"| {r['train_seconds']:.0f} | {'yes' if r['target_met'] else 'no'} |")
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                epilog="Flags after -- go to train/train.py unchanged.")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--name", default=None, help="result folder name (default: a timestamp)")
    p.add_argument("--out-root", default=os.path.join(REPO, "benchmarks", "results"))
    p.add_argument("--threads", type=int, default=0,
                   help="TensorFlow intra-op threads per run (0: TensorFlow's default)")
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    name = args.name or time.strftime("quickstart-%Y%m%d-%H%M%S")
    out = os.path.join(args.out_root, name)
    os.makedirs(out, exist_ok=True)
    command = " ".join(["python", "benchmarks/quickstart.py"] + argv + (["--"] + extra if extra else []))
    records = []
    for seed in seeds:
        rec = run_seed(seed, os.path.join(out, f"seed{seed}"), extra, args.threads)
        records.append(rec)
        print(f"seed {seed}: confident {100 * rec['confident_share']:.1f} % "
              f"({100 * rec['share_of_real']:.1f} % of real), {rec['classes_present']} classes, "
              f"KL {rec['class_kl']:.3f}, D acc real {rec['d_acc_real']:.3f} fake "
              f"{rec['d_acc_fake']:.3f}, {rec['train_seconds']:.0f} s", flush=True)
    result = {"command": command, "seeds": seeds, "extra_train_flags": extra,
              "threads": args.threads, "cpu_count": os.cpu_count(),
              "machine": platform.processor() or platform.machine(),
              "python": platform.python_version(), "date": time.strftime("%Y-%m-%d"),
              "targets": {"share_of_real": SHARE_OF_REAL, "classes": NUM_CLASSES, "max_kl": MAX_KL},
              "all_met": all(r["target_met"] for r in records), "results": records}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    text = f"Command: `{command}`\n\n{table(records)}\n"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(text)
    print(text)
    print(json.dumps({k: v for k, v in result.items() if k != "results"} |
                     {"results": [{k: v for k, v in r.items() if k not in ("config", "class_histogram")}
                                  for r in records]}, indent=1))
    return 0 if result["all_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
