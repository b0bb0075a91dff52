"""Training and serving throughput, measured side by side in one run.

Trains the TensorFlow DCGAN tutorial architecture (MNIST 28x28, latent 100,
batch 256, Algorithm 1 with k=1) on the same data as:

* ``kgan fit``: ``kgan.GAN`` with those networks under ``model.fit``;
* ``plain loop``: the same networks and the same Algorithm 1 step in a
  hand-written ``tf.function`` loop (the baseline);
* "before" rows that switch off one of kgan's speed choices each (G's
  forward pass under D's tape, a host round trip per step, no prefetch), and
  rows with ``steps_per_execution`` and XLA, so every choice has a
  before/after figure from the same run;

measures the fp32 matmul rate (TensorFlow and NumPy, the faster is the
reference) and each layer's forward and backward alone (the "kernel
ceiling": how fast a step made only of those kernels would run), and
generation from the exported SavedModel next to in-process ``generate``.
Training rows are measured ``--repeats`` times round-robin and report their
best. Prints a table and writes JSON.

    python benchmarks/throughput.py                 # full run (~20 min on 2 cores)
    python benchmarks/throughput.py --quick         # smoke run
    python benchmarks/throughput.py --kernels-only  # matmul and per-layer kernels only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

import kgan  # noqa: E402

LATENT = 100
SHAPE = (28, 28, 1)


# --- the TensorFlow DCGAN tutorial networks ----------------------------------

def tutorial_generator():
    z = keras.Input((LATENT,))
    x = layers.Dense(7 * 7 * 256, use_bias=False)(z)
    x = layers.LeakyReLU()(layers.BatchNormalization()(x))
    x = layers.Reshape((7, 7, 256))(x)
    x = layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False)(x)
    x = layers.LeakyReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False)(x)
    x = layers.LeakyReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh")(x)
    return keras.Model(z, x, name="generator")


def tutorial_discriminator():
    img = keras.Input(SHAPE)
    x = layers.LeakyReLU()(layers.Conv2D(64, 5, strides=2, padding="same")(img))
    x = layers.Dropout(0.3)(x)
    x = layers.LeakyReLU()(layers.Conv2D(128, 5, strides=2, padding="same")(x))
    x = layers.Dropout(0.3)(x)
    return keras.Model(img, layers.Dense(1)(layers.Flatten()(x)), name="discriminator")


def layer_flops(layer):
    """Multiply-adds x 2 of one Dense / Conv / ConvTranspose layer for ONE example (else 0)."""
    if isinstance(layer, layers.Dense):
        return 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
    if isinstance(layer, layers.Conv2DTranspose):
        kh, kw, cout, cin = layer.kernel.shape
        h, w = layer.input.shape[1:3]  # each input pixel scatters a kh*kw*cout patch
        return 2 * h * w * kh * kw * cin * cout
    if isinstance(layer, layers.Conv2D):
        kh, kw, cin, cout = layer.kernel.shape
        h, w = layer.output.shape[1:3]
        return 2 * h * w * kh * kw * cin * cout
    return 0


def forward_flops(model):
    """Multiply-adds x 2 of Dense / Conv / ConvTranspose layers for ONE example."""
    return sum(layer_flops(layer) for layer in model.layers)


def _seconds_per_call(fn, min_seconds):
    """Seconds per call of ``fn`` after one warm-up call, over at least ``min_seconds``."""
    fn()
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_seconds:
        fn()
        reps += 1
    return (time.perf_counter() - t0) / reps


def layer_rates(model, batch, min_seconds=1.0):
    """Time of each compute layer alone: its forward, and forward + backward.

    Each layer runs in its own ``tf.function`` on random inputs of its
    shapes, so the figures are what TensorFlow's kernels for those shapes
    reach on this machine with nothing else around them. The backward takes
    a random output gradient and returns the gradients for the input and the
    kernel; the forward output is returned too, since a backward alone would
    let the graph optimiser prune the forward of a linear layer.

    Returns:
        ``[{layer, flops, forward_s, backward_s, forward_gflops,
        backward_gflops}]``, FLOPs per image (forward) and seconds per batch;
        the backward counts 2x the forward's FLOPs.
    """
    out = []
    for layer in model.layers:
        f = layer_flops(layer)
        if not f:
            continue
        x = tf.random.normal([batch] + list(layer.input.shape[1:]))
        dy = tf.random.normal([batch] + list(layer.output.shape[1:]))

        @tf.function
        def fwd(x, layer=layer):
            return layer(x)

        @tf.function
        def fwd_bwd(x, dy, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
            return [y] + tape.gradient(y, [x] + layer.trainable_variables, output_gradients=dy)

        t_f = _seconds_per_call(lambda: fwd(x).numpy(), min_seconds)
        t_fb = _seconds_per_call(lambda: [t.numpy() for t in fwd_bwd(x, dy)], min_seconds)
        t_b = max(t_fb - t_f, 1e-9)
        out.append({"layer": f"{model.name}/{layer.name}", "flops": f, "forward_s": t_f, "backward_s": t_b,
                    "forward_gflops": f * batch / t_f / 1e9, "backward_gflops": 2 * f * batch / t_b / 1e9})
    return out


def train_flops_per_image(g_fwd, d_fwd):
    """FLOPs per real image of one Algorithm 1 step (k=1), backward = 2x forward.

    D step: G forward (no tape) + D forward on real and fake + D backward on both.
    G step: G forward + D forward + D backward to activations only (1x) + G backward.
    """
    d_step = g_fwd + 2 * d_fwd + 2 * (2 * d_fwd)
    g_step = g_fwd + d_fwd + d_fwd + 2 * g_fwd
    return d_step + g_step


# --- the baseline: the same step in a plain tf.function loop -----------------

def plain_loop(images, batch, steps, jit, seed=0, tape_g=False, sync_every_step=False, prefetch=True):
    """Images/s of Algorithm 1 (k=1) in a hand-written ``tf.function`` loop.

    The flags switch off one of kgan's speed choices each, so that every choice
    has a before/after figure on the same step:

    * ``tape_g``: D's step runs G's forward pass under the gradient tape
      (the tape then records activations that nothing differentiates);
    * ``sync_every_step``: the host reads the loss after every step, as a loop
      that logs per step does (one host round trip per step);
    * ``prefetch=False``: the input pipeline has no prefetch, so the next
      batch is prepared after the step instead of during it.
    """
    keras.utils.set_random_seed(seed)
    g, d = tutorial_generator(), tutorial_discriminator()
    g_opt, d_opt = keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4)
    g_opt.build(g.trainable_variables)
    d_opt.build(d.trainable_variables)
    bce = lambda logits, target: tf.reduce_mean(  # noqa: E731
        tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target), logits=logits))

    @tf.function(jit_compile=jit)
    def step(real):
        z = tf.random.normal([batch, LATENT])
        if not tape_g:
            fake = g(z, training=True)
        with tf.GradientTape() as tape:
            if tape_g:
                fake = g(z, training=True)
            d_loss = bce(d(real, training=True), 1.0) + bce(d(fake, training=True), 0.0)
        d_opt.apply(tape.gradient(d_loss, d.trainable_variables), d.trainable_variables)
        z = tf.random.normal([batch, LATENT])
        with tf.GradientTape() as tape:
            g_loss = bce(d(g(z, training=True), training=True), 1.0)
        g_opt.apply(tape.gradient(g_loss, g.trainable_variables), g.trainable_variables)
        return d_loss, g_loss

    ds = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=seed).repeat()
    ds = ds.batch(batch, drop_remainder=True)
    it = iter(ds.prefetch(tf.data.AUTOTUNE) if prefetch else ds)
    for _ in range(3):  # trace + warm up
        out = step(next(it))
    float(out[0])
    t0 = time.perf_counter()
    for _ in range(steps):
        out = step(next(it))
        if sync_every_step:
            float(out[0])
    float(out[0])  # wait for the last step
    return steps * batch / (time.perf_counter() - t0)


class _Timer(keras.callbacks.Callback):
    def __init__(self, warmup_steps):
        super().__init__()
        self.warmup_steps = warmup_steps
        self.t0 = None

    def on_train_batch_end(self, batch, logs=None):
        if self.t0 is None and self.model.step >= self.warmup_steps:
            self.t0 = time.perf_counter()
            self.start_step = self.model.step

    def on_train_end(self, logs=None):
        self.t1 = time.perf_counter()
        self.end_step = self.model.step


def kgan_fit(images, batch, steps, jit, spe, seed=0, pipeline="stream"):
    """Images/s of ``kgan.GAN.fit`` on the tutorial networks.

    ``pipeline="stream"`` feeds :func:`kgan.data.training_stream` (the
    training job's pipeline, prefetched); ``"no-prefetch"`` the same shuffled
    batches without prefetch (the "before" figure for the pipeline).
    """
    keras.utils.set_random_seed(seed)
    gan = kgan.GAN(tutorial_generator(), tutorial_discriminator(), seed=seed)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-4), d_optimizer=keras.optimizers.Adam(1e-4),
                jit_compile=jit,
                steps_per_execution=spe)
    if pipeline == "stream":
        ds, _ = kgan.data.training_stream(images, batch_size=batch, seed=seed)
    else:
        ds = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=seed).repeat()
        ds = ds.batch(batch, drop_remainder=True)
    warm = 3 * spe
    timer = _Timer(warm)
    gan.fit(ds, epochs=1, steps_per_epoch=warm + max(spe, steps - steps % spe), verbose=0, callbacks=[timer])
    return (timer.end_step - timer.start_step) * batch / (timer.t1 - timer.t0), gan


def matmul_gflops(sizes=(1024, 2048, 3072), min_seconds=1.5):
    """Best fp32 matmul rate over a few square sizes, in GFLOP/s.

    Measures TensorFlow's own matmul kernel and NumPy's BLAS on the same
    machine; the faster of the two is the reference the model's rate is
    compared with (the fraction is then a lower bound on how well the model
    uses the machine, not a flattering one). Each size is warmed up, then
    repeated for at least ``min_seconds``. Returns ``(best, {name: rate})``.
    """
    rates = {}
    for n in sizes:
        a = tf.random.normal([n, n])
        b = tf.random.normal([n, n])
        mm = tf.function(tf.linalg.matmul)
        rates[f"tensorflow {n}"] = 2 * n ** 3 / _seconds_per_call(lambda: mm(a, b).numpy(), min_seconds) / 1e9
        a_np, b_np = a.numpy(), b.numpy()
        rates[f"numpy {n}"] = 2 * n ** 3 / _seconds_per_call(lambda: a_np @ b_np, min_seconds) / 1e9
    return max(rates.values()), rates


def latency(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return np.percentile(times, 50) * 1e3, np.percentile(times, 99) * 1e3


def serving(gan, reps, batch):
    """Export generation vs in-process generate: p50/p99 at batch 1, images/s at batch 256."""
    from kgan import export

    base = tempfile.mkdtemp(prefix="kgan-bench-")
    path = export.export_generator(gan, base, "generator", warmup=False)
    fn = tf.saved_model.load(path).signatures["serving_default"]
    z1 = tf.random.normal([1, LATENT])
    zb = tf.random.normal([batch, LATENT])
    out = {}
    out["export_p50_ms"], out["export_p99_ms"] = latency(lambda: fn(z=z1)["images"].numpy(), reps)
    out["generate_p50_ms"], out["generate_p99_ms"] = latency(lambda: gan.generate(z=z1), reps)
    n = max(3, reps // 10)
    t0 = time.perf_counter()
    for _ in range(n):
        fn(z=zb)["images"].numpy()
    out["export_images_per_s"] = n * batch / (time.perf_counter() - t0)
    gan.generate(z=zb)
    t0 = time.perf_counter()
    for _ in range(n):
        gan.generate(z=zb)
    out["generate_images_per_s"] = n * batch / (time.perf_counter() - t0)
    return out


def kernel_ceiling(batch, train_flops):
    """Per-layer kernel times of the tutorial networks and the step time they imply.

    Args:
        batch: batch size the kernels are timed at.
        train_flops: FLOPs per image of the train step (:func:`train_flops_per_image`).

    Returns ``(layers, {"images_per_s", "gflops"})``: see :func:`step_ceiling`.
    """
    g_rates = layer_rates(tutorial_generator(), batch)
    d_rates = layer_rates(tutorial_discriminator(), batch)
    ips = step_ceiling(sum(r["forward_s"] for r in g_rates), sum(r["backward_s"] for r in g_rates),
                       sum(r["forward_s"] for r in d_rates), sum(r["backward_s"] for r in d_rates), batch)
    return g_rates + d_rates, {"images_per_s": ips, "gflops": ips * train_flops / 1e9}


def step_ceiling(g_forward_s, g_backward_s, d_forward_s, d_backward_s, batch):
    """Images/s of an Algorithm 1 step (k=1) made only of the isolated layer kernels.

    The step runs G forward twice (D's step, G's step) and backward once; D
    forward three times (real and fake in D's step, fake in G's step),
    backward twice in D's step and once more to its input only in G's step,
    counted as half a backward (as :func:`train_flops_per_image` does). The
    sum of those times is the fastest the step could go with these kernels.

    Args:
        g_forward_s, g_backward_s: summed forward / backward seconds of G's
            compute layers on one batch.
        d_forward_s, d_backward_s: the same for D.
        batch: the batch those times are for.

    Example:
        >>> round(step_ceiling(0.1, 0.2, 0.04, 0.08, 256), 1)  # 0.4 s (G) + 0.32 s (D) per batch
        355.6
    """
    g = 2 * g_forward_s + g_backward_s
    d = 3 * d_forward_s + 2.5 * d_backward_s
    return batch / (g + d)


def _print_kernels(device, flops, mm, mm_sizes, kernels, ceiling):
    print(f"device: {device}   train FLOPs/image: {flops / 1e6:.1f} M")
    print(f"fp32 matmul: {mm:.1f} GFLOP/s (by size: " + ", ".join(f"{n} {r:.0f}" for n, r in mm_sizes.items()) + ")")
    print(f"{'layer alone':34s} {'MFLOP/img':>10s} {'fwd ms':>8s} {'GFLOP/s':>8s} {'bwd ms':>8s} {'GFLOP/s':>8s}")
    for k in kernels:
        print(f"{k['layer']:34s} {k['flops'] / 1e6:10.1f} {1e3 * k['forward_s']:8.1f} {k['forward_gflops']:8.1f} "
              f"{1e3 * k['backward_s']:8.1f} {k['backward_gflops']:8.1f}")
    print(f"kernel ceiling of the train step: {ceiling['images_per_s']:.1f} img/s = {ceiling['gflops']:.1f} GFLOP/s "
          f"({100 * ceiling['gflops'] / mm:.0f} % of matmul)")


def _command(argv):
    return " ".join([os.path.basename(sys.executable), "benchmarks/throughput.py"] + list(argv or sys.argv[1:]))


def _write(path, result):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {path}")
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=30, help="timed train steps per row")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=2, help="measurements per training row (best is reported)")
    p.add_argument("--reps", type=int, default=200, help="latency repetitions")
    p.add_argument("--quick", action="store_true", help="smoke run: few steps")
    p.add_argument("--kernels-only", action="store_true",
                   help="only the matmul and per-layer kernel probes (a minute), no training rows")
    p.add_argument("--xla", action=argparse.BooleanOptionalAction, default=True, help="include XLA rows")
    p.add_argument("--data-dir", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist"))
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "throughput.json"))
    a = p.parse_args(argv)
    if a.quick:
        a.steps, a.reps, a.repeats = 4, 20, 1
    if os.path.isdir(a.data_dir):
        images, _ = kgan.data.load("mnist_idx", a.data_dir)
    else:
        images, _ = kgan.data.load("digits")
    gpus = tf.config.list_physical_devices("GPU")
    device = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else (
        f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})")

    g_fwd = forward_flops(tutorial_generator())
    d_fwd = forward_flops(tutorial_discriminator())
    flops = train_flops_per_image(g_fwd, d_fwd)
    mm_before, mm_sizes = matmul_gflops()
    kernels, ceiling = kernel_ceiling(a.batch, flops)
    if a.kernels_only:
        result = {"command": _command(argv), "device": device, "tensorflow": tf.__version__,
                  "batch": a.batch, "train_flops_per_image": flops, "matmul_gflops": mm_before,
                  "matmul_gflops_by_size": mm_sizes, "layers": kernels, "kernel_ceiling": ceiling}
        _print_kernels(device, flops, mm_before, mm_sizes, kernels, ceiling)
        return _write(a.out, result)

    B, S = a.batch, a.steps
    # (row, what it isolates, measurement); "before" rows switch one speed choice off.
    paths = [
        ("plain tf.function loop", "baseline", lambda: plain_loop(images, B, S, jit=False)),
        ("plain loop, G forward taped in D step", "before: no tape for G in D's step",
         lambda: plain_loop(images, B, S, jit=False, tape_g=True)),
        ("plain loop, host sync every step", "before: no host round trip per step",
         lambda: plain_loop(images, B, S, jit=False, sync_every_step=True)),
        ("plain loop, no prefetch", "before: prefetched input",
         lambda: plain_loop(images, B, S, jit=False, prefetch=False)),
        ("kgan fit", "kgan's default path", lambda: kgan_fit(images, B, S, jit=False, spe=1)),
        ("kgan fit, no prefetch", "before: training_stream's prefetch",
         lambda: kgan_fit(images, B, S, jit=False, spe=1, pipeline="no-prefetch")),
        ("kgan fit, steps_per_execution=8", "steps_per_execution",
         lambda: kgan_fit(images, B, S, jit=False, spe=8)),
    ]
    if a.xla:
        paths += [("plain tf.function loop, XLA", "XLA", lambda: plain_loop(images, B, S, jit=True)),
                  ("kgan fit, XLA", "XLA", lambda: kgan_fit(images, B, S, jit=True, spe=1))]
    # Repeats go round-robin over the rows so that a slow spell of the machine
    # hits every row alike; each row reports its best repeat.
    measured = {name: [] for name, _, _ in paths}
    gan = None
    for _ in range(a.repeats):
        for name, _, fn in paths:
            out = fn()
            if isinstance(out, tuple):
                out, gan = out
            measured[name].append(out)
            print(f"  {name}: {out:.1f} img/s", flush=True)
    mm_after, _ = matmul_gflops()
    mm = max(mm_before, mm_after)

    rows = []
    base = max(measured["plain tf.function loop"])
    for name, what, _ in paths:
        ips = max(measured[name])
        rows.append({"path": name, "isolates": what, "images_per_s": ips, "repeats": measured[name],
                     "ratio_to_plain_loop": ips / base, "gflops": ips * flops / 1e9,
                     "fraction_of_matmul": ips * flops / 1e9 / mm})

    serve = serving(gan, a.reps, a.batch)
    result = {
        "command": _command(argv),
        "device": device, "tensorflow": tf.__version__, "keras": keras.__version__,
        "batch": a.batch, "timed_steps": a.steps,
        "flops_per_image": {"generator_forward": g_fwd, "discriminator_forward": d_fwd, "train_step": flops},
        "matmul_gflops": mm, "matmul_gflops_by_size": mm_sizes,
        "matmul_gflops_start_end": [mm_before, mm_after], "layers": kernels, "kernel_ceiling": ceiling,
        "repeats": a.repeats, "training": rows, "serving": serve,
        "serving_export_vs_generate_at_batch": serve["export_images_per_s"] / serve["generate_images_per_s"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    for r in rows:
        r["fraction_of_kernel_ceiling"] = r["images_per_s"] / ceiling["images_per_s"]
    _print_kernels(device, flops, mm, mm_sizes, kernels, ceiling)
    print(f"matmul at the end: {mm_after:.1f} GFLOP/s (reference: best of start and end, {mm:.1f})")
    print(f"{'path':40s} {'img/s':>9s} {'x plain':>8s} {'GFLOP/s':>8s} {'% matmul':>9s} {'% kernels':>9s}  isolates")
    for r in rows:
        print(f"{r['path']:40s} {r['images_per_s']:9.1f} {r['ratio_to_plain_loop']:8.2f} "
              f"{r['gflops']:8.1f} {100 * r['fraction_of_matmul']:8.1f}% "
              f"{100 * r['fraction_of_kernel_ceiling']:8.1f}%  {r['isolates']}")
    print(f"serving  batch 1 p50/p99 ms: export {serve['export_p50_ms']:.2f}/{serve['export_p99_ms']:.2f}"
          f"  generate {serve['generate_p50_ms']:.2f}/{serve['generate_p99_ms']:.2f}")
    print(f"serving  batch {a.batch} img/s: export {serve['export_images_per_s']:.0f}"
          f"  generate {serve['generate_images_per_s']:.0f}"
          f"  (export/generate {result['serving_export_vs_generate_at_batch']:.2f})")
    print(f"peak RSS: {result['peak_rss_mb']:.0f} MB")
    return _write(a.out, result)


if __name__ == "__main__":
    main()
