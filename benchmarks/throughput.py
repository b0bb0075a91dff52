"""Training and serving throughput, measured side by side in one run.

Trains two network pairs on MNIST 28x28 (latent 100, batch 256): the
TensorFlow DCGAN tutorial's (``--nets tutorial``) and kgan's DCGAN with its
defaults (``--nets kgan``). For each, the rows are:

* ``plain tf.function loop``: Algorithm 1 (k=1, fresh noise for G's step)
  in a hand-written loop, the baseline each pair's rows are compared with;
* ``TF tutorial loop (shared fakes)``: the tutorial's own step, one G
  forward shared by both updates (less work per image);
* ``kgan fit``: ``kgan.GAN`` under ``model.fit``, kgan's default path;
* one row per other upsampling form of the generator (``Conv2DTranspose``,
  kgan's sub-pixel form for the image layer only, or everywhere: the same
  function and weights, see :class:`kgan.layers.Conv2DTranspose`);
* ``step="shared_fakes"`` and ``jit_compile="auto"`` rows, skipped with a
  note where this kgan does not have the option;
* XLA rows (``--no-xla`` to leave out), and ``PyTorch eager`` rows run by a
  side interpreter given with ``--torch-python`` (kgan never imports torch);
* with ``--before-rows``, the tutorial rows that switch off one of kgan's
  speed choices each (G's forward under D's tape, a host round trip per
  step, no prefetch, ``steps_per_execution``).

It also measures the fp32 matmul rate (TensorFlow and NumPy, the faster is
the reference), each layer's forward and backward alone, transposed
convolutions in both forms (the "kernel ceiling": how fast a step made only
of those kernels would run), and generation from the exported SavedModel
next to in-process ``generate``. Training rows are measured ``--repeats``
times round-robin with seeds 0, 1, ... and report best and median. Prints a
table and writes JSON.

    python benchmarks/throughput.py --steps 5       # full run (~17 min on 2 busy cores)
    python benchmarks/throughput.py --quick         # smoke run
    python benchmarks/throughput.py --kernels-only  # matmul and per-layer kernels only
    python benchmarks/throughput.py --torch-python /path/to/venv/bin/python  # + PyTorch rows
    TF_ENABLE_ONEDNN_OPTS=0 python benchmarks/throughput.py  # TF's own default kernels on AVX2 CPUs

``import kgan`` turns TensorFlow's oneDNN CPU kernels on where TensorFlow
leaves them off (``kgan/_cpu.py``); the device line says which was used.
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

import kgan  # noqa: E402  first: it turns TF's oneDNN kernels on where TF leaves them off
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

LATENT = 100
SHAPE = (28, 28, 1)


# --- the TensorFlow DCGAN tutorial networks ----------------------------------

def _upsampling(upsampling):
    """``(hidden, image)`` layer classes: the generator's transposed convs, per form."""
    if upsampling == "transpose":
        return layers.Conv2DTranspose, layers.Conv2DTranspose
    return kgan.networks._upsampling_layers(upsampling)


def tutorial_generator(upsampling="transpose"):
    hidden_up, image_up = _upsampling(upsampling)
    z = keras.Input((LATENT,))
    x = layers.Dense(7 * 7 * 256, use_bias=False)(z)
    x = layers.LeakyReLU()(layers.BatchNormalization()(x))
    x = layers.Reshape((7, 7, 256))(x)
    x = hidden_up(128, 5, strides=1, padding="same", use_bias=False)(x)
    x = layers.LeakyReLU()(layers.BatchNormalization()(x))
    x = hidden_up(64, 5, strides=2, padding="same", use_bias=False)(x)
    x = layers.LeakyReLU()(layers.BatchNormalization()(x))
    x = image_up(1, 5, strides=2, padding="same", use_bias=False, activation="tanh")(x)
    return keras.Model(z, x, name="generator")


def tutorial_discriminator():
    img = keras.Input(SHAPE)
    x = layers.LeakyReLU()(layers.Conv2D(64, 5, strides=2, padding="same")(img))
    x = layers.Dropout(0.3)(x)
    x = layers.LeakyReLU()(layers.Conv2D(128, 5, strides=2, padding="same")(x))
    x = layers.Dropout(0.3)(x)
    return keras.Model(img, layers.Dense(1)(layers.Flatten()(x)), name="discriminator")


def kgan_generator(upsampling="auto"):
    """kgan's DCGAN generator for MNIST with its defaults (base_filters 64, 4x4)."""
    return kgan.networks.build_dcgan_generator(LATENT, SHAPE, upsampling=upsampling)


def kgan_discriminator():
    return kgan.networks.build_dcgan_discriminator(SHAPE)


NETWORKS = {  # name: (generator builder taking `upsampling`, discriminator builder, default form)
    "tutorial": (tutorial_generator, tutorial_discriminator, "transpose"),
    "kgan": (kgan_generator, kgan_discriminator, "auto"),
}


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


def _upsampling_twin(layer):
    """The same transposed convolution in the other form, with the same weights (else None)."""
    if not isinstance(layer, layers.Conv2DTranspose) or layer.padding != "same":
        return None
    cls = layers.Conv2DTranspose if isinstance(layer, kgan.layers.Conv2DTranspose) else kgan.layers.Conv2DTranspose
    twin = cls.from_config(layer.get_config())
    twin.build(layer.input.shape)
    twin.set_weights(layer.get_weights())
    return twin


def _form(layer):
    if not isinstance(layer, layers.Conv2DTranspose):
        return None
    return "sub-pixel" if isinstance(layer, kgan.layers.Conv2DTranspose) else "transpose"


def layer_rates(model, batch, min_seconds=1.0, rounds=2):
    """Time of each compute layer alone: its forward, and forward + backward.

    Each layer runs in its own ``tf.function`` on random inputs of its
    shapes, so the figures are what TensorFlow's kernels for those shapes
    reach on this machine with nothing else around them. The backward takes
    a random output gradient and returns the gradients for the input and the
    kernel; the forward output is returned too, since a backward alone would
    let the graph optimiser prune the forward of a linear layer.

    A transposed convolution is also timed in its other form (Keras's
    ``Conv2DTranspose`` or kgan's sub-pixel one, same weights) as a row with
    ``twin=True``, which the kernel ceiling does not count. The two forms are
    timed alternately ``rounds`` times and each keeps its best.

    Returns:
        ``[{layer, form, twin, flops, forward_s, backward_s, forward_gflops,
        backward_gflops}]``, FLOPs per image (forward, the model's own:
        the sub-pixel form's multiplications by zero taps are not counted) and
        seconds per batch; the backward counts 2x the forward's FLOPs.
    """
    out = []
    for layer in model.layers:
        f = layer_flops(layer)
        if not f:
            continue
        x = tf.random.normal([batch] + list(layer.input.shape[1:]))
        dy = tf.random.normal([batch] + list(layer.output.shape[1:]))
        candidates = [(layer, False)]
        twin = _upsampling_twin(layer)
        if twin is not None:
            candidates.append((twin, True))
        timers = []
        for lay, _ in candidates:
            @tf.function
            def fwd(x, lay=lay):
                return lay(x)

            def make_fwd_bwd(lay):
                @tf.function
                def fwd_bwd(x, dy):
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        y = lay(x)
                    return [y] + tape.gradient(y, [x] + lay.trainable_variables, output_gradients=dy)
                return fwd_bwd

            fwd_bwd = make_fwd_bwd(lay)
            timers.append((lambda fwd=fwd: fwd(x).numpy(), lambda fb=fwd_bwd: [t.numpy() for t in fb(x, dy)]))
        best = [[float("inf"), float("inf")] for _ in candidates]
        for _ in range(rounds if twin is not None else 1):
            for i, (tf_fn, tfb_fn) in enumerate(timers):
                best[i][0] = min(best[i][0], _seconds_per_call(tf_fn, min_seconds / 2 if twin else min_seconds))
                best[i][1] = min(best[i][1], _seconds_per_call(tfb_fn, min_seconds / 2 if twin else min_seconds))
        for (lay, is_twin), (t_f, t_fb) in zip(candidates, best):
            t_b = max(t_fb - t_f, 1e-9)
            out.append({"layer": f"{model.name}/{layer.name}", "form": _form(lay), "twin": is_twin, "flops": f,
                        "forward_s": t_f, "backward_s": t_b,
                        "forward_gflops": f * batch / t_f / 1e9, "backward_gflops": 2 * f * batch / t_b / 1e9})
    return out


def train_flops_per_image(g_fwd, d_fwd, shared_fakes=False):
    """FLOPs per real image of one train step (k=1), backward = 2x forward.

    Algorithm 1 (Goodfellow et al. 2014), fresh noise for G's step:
    D step: G forward (no tape) + D forward on real and fake + D backward on both.
    G step: G forward + D forward + D backward to activations only (1x) + G backward.

    ``shared_fakes`` (the TF DCGAN tutorial's step): one G forward and one D
    forward on the fakes serve both updates, so G's step adds only the pass
    back through D to its input and G's backward.

    Example:
        >>> train_flops_per_image(10, 100), train_flops_per_image(10, 100, shared_fakes=True)
        (840, 730)
    """
    d_step = g_fwd + 2 * d_fwd + 2 * (2 * d_fwd)
    if shared_fakes:
        return d_step + d_fwd + 2 * g_fwd
    g_step = g_fwd + d_fwd + d_fwd + 2 * g_fwd
    return d_step + g_step


# --- the baseline: the same step in a plain tf.function loop -----------------

def plain_loop(images, batch, steps, jit, seed=0, tape_g=False, sync_every_step=False, prefetch=True,
               nets="tutorial", shared_fakes=False):
    """Images/s of Algorithm 1 (k=1) in a hand-written ``tf.function`` loop.

    ``nets`` picks the networks (:data:`NETWORKS`, default upsampling form);
    ``shared_fakes=True`` runs the TF DCGAN tutorial's step instead: one G
    forward on one noise batch, and one D forward on those fakes, serve both
    updates (computed under two tapes, applied together).

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
    make_g, make_d, _ = NETWORKS[nets]
    g, d = make_g(), make_d()
    g_opt, d_opt = keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4)
    g_opt.build(g.trainable_variables)
    d_opt.build(d.trainable_variables)
    bce = lambda logits, target: tf.reduce_mean(  # noqa: E731
        tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target), logits=logits))

    @tf.function(jit_compile=jit)
    def tutorial_step(real):
        z = tf.random.normal([batch, LATENT])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = g(z, training=True)
            real_out, fake_out = d(real, training=True), d(fake, training=True)
            g_loss = bce(fake_out, 1.0)
            d_loss = bce(real_out, 1.0) + bce(fake_out, 0.0)
        g_grads = g_tape.gradient(g_loss, g.trainable_variables)
        d_grads = d_tape.gradient(d_loss, d.trainable_variables)
        g_opt.apply(g_grads, g.trainable_variables)
        d_opt.apply(d_grads, d.trainable_variables)
        return d_loss, g_loss

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

    if shared_fakes:
        step = tutorial_step  # noqa: F811
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
    """Times the steps after ``warmup_steps``; with ``after_choice``, after
    ``jit_compile="auto"`` has chosen (its own timing phase is not the row)."""

    def __init__(self, warmup_steps, after_choice=False):
        super().__init__()
        self.warmup_steps = warmup_steps
        self.after_choice = after_choice
        self.t0 = self.chosen_at = None

    def on_train_batch_end(self, batch, logs=None):
        # Steps from the batch index (one epoch), not model.step: a variable
        # read per step is work that the plain loop does not do.
        done = batch + 1
        if self.after_choice and self.chosen_at is None:
            if self.model.jit_choice is None:
                return
            self.chosen_at = done  # a retrace may follow: warm up again
        if self.t0 is None and done >= self.warmup_steps + (self.chosen_at or 0):
            self.t0 = time.perf_counter()
            self.start_step = done
        self.end_step = done

    def on_train_end(self, logs=None):
        self.t1 = time.perf_counter()


class Skipped(Exception):
    """A row whose option this kgan does not have yet; the message says which."""


def kgan_fit(images, batch, steps, jit, spe, seed=0, pipeline="stream", nets="tutorial",
             upsampling=None, gan_options=None):
    """Images/s of ``kgan.GAN.fit`` on the tutorial networks (or ``nets``).

    ``pipeline="stream"`` feeds :func:`kgan.data.training_stream` (the
    training job's pipeline, prefetched); ``"no-prefetch"`` the same shuffled
    batches without prefetch (the "before" figure for the pipeline).
    ``upsampling`` picks the generator's transposed-convolution form (the
    network's default when None); ``gan_options`` go to ``kgan.GAN`` (e.g.
    ``{"step": "shared_fakes"}``). An option that ``kgan.GAN`` or its
    ``compile`` rejects (TypeError / ValueError) raises :class:`Skipped`.
    """
    keras.utils.set_random_seed(seed)
    make_g, make_d, default_up = NETWORKS[nets]
    try:
        gan = kgan.GAN(make_g(upsampling or default_up), make_d(), seed=seed, **(gan_options or {}))
        gan.compile(g_optimizer=keras.optimizers.Adam(1e-4), d_optimizer=keras.optimizers.Adam(1e-4),
                    jit_compile=jit,
                    steps_per_execution=spe)
    except (TypeError, ValueError) as e:
        raise Skipped(f"not available in this kgan: {type(e).__name__}: {str(e).splitlines()[0][:120]}")
    if pipeline == "stream":
        ds, _ = kgan.data.training_stream(images, batch_size=batch, seed=seed)
    else:
        ds = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=seed).repeat()
        ds = ds.batch(batch, drop_remainder=True)
    warm = 3 * spe
    timer = _Timer(warm, after_choice=jit == "auto")
    choosing = 0
    if jit == "auto":  # ChooseJit's own phase: warm-up, timed plain steps, the XLA compile, timed XLA steps
        choosing = kgan.core.guards.ChooseJit().phase_steps
    gan.fit(ds, epochs=1, steps_per_epoch=choosing + warm + max(spe, steps - steps % spe), verbose=0,
            callbacks=[timer])
    if timer.t0 is None:
        raise RuntimeError("the timer never started: too few steps for the warm-up")
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


def kernel_ceiling(batch, train_flops, nets="tutorial"):
    """Per-layer kernel times of one network pair and the step time they imply.

    Args:
        batch: batch size the kernels are timed at.
        train_flops: FLOPs per image of the train step (:func:`train_flops_per_image`).
        nets: a key of :data:`NETWORKS` (built in its default upsampling form).

    Returns ``(layers, {"images_per_s", "gflops"})``: see :func:`step_ceiling`;
    ``twin`` rows (the other upsampling form) are listed but not counted.
    """
    make_g, make_d, default_up = NETWORKS[nets]
    g_rates = layer_rates(make_g(default_up), batch)
    d_rates = layer_rates(make_d(), batch)
    own = lambda rates, key: sum(r[key] for r in rates if not r["twin"])  # noqa: E731
    ips = step_ceiling(own(g_rates, "forward_s"), own(g_rates, "backward_s"),
                       own(d_rates, "forward_s"), own(d_rates, "backward_s"), batch)
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


def _print_kernels(device, mm, mm_sizes, per_net):
    print(f"device: {device}")
    print(f"fp32 matmul: {mm:.1f} GFLOP/s (by size: " + ", ".join(f"{n} {r:.0f}" for n, r in mm_sizes.items()) + ")")
    for nets, info in per_net.items():
        print(f"[{nets}] train FLOPs/image: Algorithm 1 {info['flops'] / 1e6:.1f} M, "
              f"shared fakes {info['flops_shared'] / 1e6:.1f} M")
        print(f"{'layer alone':34s} {'form':>10s} {'MFLOP/img':>10s} {'fwd ms':>8s} {'GFLOP/s':>8s} "
              f"{'bwd ms':>8s} {'GFLOP/s':>8s}")
        for k in info["layers"]:
            form = (k["form"] or "") + ("*" if k["twin"] else "")
            print(f"{k['layer']:34s} {form:>10s} {k['flops'] / 1e6:10.1f} {1e3 * k['forward_s']:8.1f} "
                  f"{k['forward_gflops']:8.1f} {1e3 * k['backward_s']:8.1f} {k['backward_gflops']:8.1f}")
        c = info["ceiling"]
        print(f"kernel ceiling of the Algorithm 1 step: {c['images_per_s']:.1f} img/s = {c['gflops']:.1f} GFLOP/s "
              f"({100 * c['gflops'] / mm:.0f} % of matmul); * = the other upsampling form, not counted")


def torch_eager(python, nets, batch, steps, seed=0):
    """Images/s of ``throughput_torch.py`` run by another interpreter (PyTorch eager).

    kgan never imports torch: the side environment's ``python`` runs the
    script as a subprocess, while this process waits idle.

    Raises:
        Skipped: when no interpreter was given, or it cannot run the script
            (e.g. torch is not installed there).
    """
    import subprocess

    if not python:
        raise Skipped("no --torch-python given")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "throughput_torch.py")
    cmd = [python, script, "--nets", nets, "--batch", str(batch), "--steps", str(steps), "--seed", str(seed)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Skipped(f"{python}: {e}")
    if done.returncode:
        raise Skipped(f"{python} failed: {(done.stderr.strip().splitlines() or ['?'])[-1][:160]}")
    info = json.loads(done.stdout.strip().splitlines()[-1])
    return info["images_per_s"], info


def _command(argv):
    return " ".join([os.path.basename(sys.executable), "benchmarks/throughput.py"] + list(argv or sys.argv[1:]))


def _write(path, result):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {path}")
    return result


def training_paths(images, a):
    """The training rows: ``(nets, name, what it isolates, algorithm, measure(seed))``.

    ``algorithm`` is ``"alg1"`` (Algorithm 1, fresh noise for G's step) or
    ``"shared"`` (the TF tutorial's shared fakes); it sets the row's FLOPs.
    """
    B, S = a.batch, a.steps
    paths = []
    for nets in a.nets:
        default_up = NETWORKS[nets][2]
        other_ups = [u for u in ("transpose", "auto", "subpixel") if u != default_up]
        paths += [
            (nets, "plain tf.function loop", "baseline: Algorithm 1, fresh noise for G's step", "alg1",
             lambda seed, n=nets: plain_loop(images, B, S, jit=False, seed=seed, nets=n)),
            (nets, "TF tutorial loop (shared fakes)", "the tutorial's step: one G forward for both updates",
             "shared", lambda seed, n=nets: plain_loop(images, B, S, jit=False, seed=seed, nets=n, shared_fakes=True)),
            (nets, "kgan fit", f"kgan's default path (upsampling={default_up!r})", "alg1",
             lambda seed, n=nets: kgan_fit(images, B, S, jit=False, spe=1, seed=seed, nets=n)),
        ]
        paths += [(nets, f"kgan fit, upsampling={u!r}", "generator's transposed-conv form", "alg1",
                   lambda seed, n=nets, u=u: kgan_fit(images, B, S, jit=False, spe=1, seed=seed, nets=n, upsampling=u))
                  for u in other_ups]
        paths += [
            (nets, "kgan fit, step='shared_fakes'", "kgan's shared-fakes step (if this kgan has it)", "shared",
             lambda seed, n=nets: kgan_fit(images, B, S, jit=False, spe=1, seed=seed, nets=n,
                                           gan_options={"step": "shared_fakes"})),
            (nets, "kgan fit, jit_compile='auto'", "kgan's automatic XLA choice", "alg1",
             lambda seed, n=nets: kgan_fit(images, B, S, jit="auto", spe=1, seed=seed, nets=n)),
        ]
        if a.xla:
            paths += [
                (nets, "plain tf.function loop, XLA", "XLA", "alg1",
                 lambda seed, n=nets: plain_loop(images, B, S, jit=True, seed=seed, nets=n)),
                (nets, "kgan fit, XLA", "compile(jit_compile=True)", "alg1",
                 lambda seed, n=nets: kgan_fit(images, B, S, jit=True, spe=1, seed=seed, nets=n)),
            ]
        paths.append((nets, "PyTorch eager", "same networks and Algorithm 1 in PyTorch (side interpreter)", "alg1",
                      lambda seed, n=nets: torch_eager(a.torch_python, n, B, S, seed)))
        if a.before_rows and nets == "tutorial":
            paths += [
                (nets, "plain loop, G forward taped in D step", "before: no tape for G in D's step", "alg1",
                 lambda seed: plain_loop(images, B, S, jit=False, seed=seed, tape_g=True)),
                (nets, "plain loop, host sync every step", "before: no host round trip per step", "alg1",
                 lambda seed: plain_loop(images, B, S, jit=False, seed=seed, sync_every_step=True)),
                (nets, "plain loop, no prefetch", "before: prefetched input", "alg1",
                 lambda seed: plain_loop(images, B, S, jit=False, seed=seed, prefetch=False)),
                (nets, "kgan fit, no prefetch", "before: training_stream's prefetch", "alg1",
                 lambda seed: kgan_fit(images, B, S, jit=False, spe=1, seed=seed, pipeline="no-prefetch")),
                (nets, "kgan fit, steps_per_execution=8", "steps_per_execution", "alg1",
                 lambda seed: kgan_fit(images, B, S, jit=False, spe=8, seed=seed)),
            ]
    return paths


def summarise_rows(paths, measured, notes, flops, mm, ceilings):
    """One row per path: best and median img/s, ratio to its networks' plain loop, GFLOP/s.

    Args:
        paths: :func:`training_paths`.
        measured: ``{(nets, name): [img/s per repeat]}`` (empty if skipped).
        notes: ``{(nets, name): why skipped or what was resolved}``.
        flops: ``{nets: {"alg1": FLOPs/image, "shared": FLOPs/image}}``.
        mm: the matmul reference, GFLOP/s.
        ceilings: ``{nets: Algorithm 1 kernel-ceiling img/s}``.

    Each row's GFLOP/s counts its own algorithm's FLOPs (the networks' own;
    sub-pixel zero taps are not counted); the kernel-ceiling fraction is given
    for Algorithm 1 rows only.

    Example:
        >>> paths = [("t", "plain tf.function loop", "", "alg1", None), ("t", "x", "", "shared", None)]
        >>> rows = summarise_rows(paths, {("t", "plain tf.function loop"): [100.0, 90.0], ("t", "x"): [150.0]},
        ...                       {}, {"t": {"alg1": 1e9, "shared": 8e8}}, 200.0, {"t": 125.0})
        >>> [(r["ratio_to_plain_loop"], r["gflops"], r["fraction_of_kernel_ceiling"]) for r in rows]
        [(1.0, 100.0, 0.8), (1.5, 120.0, None)]
    """
    rows = []
    for nets, name, what, algorithm, _ in paths:
        reps = measured.get((nets, name)) or []
        base = measured.get((nets, "plain tf.function loop")) or []
        row = {"networks": nets, "path": name, "isolates": what, "algorithm": algorithm, "repeats": reps,
               "note": notes.get((nets, name))}
        if reps:
            ips = max(reps)
            gflops = ips * flops[nets][algorithm] / 1e9
            row.update(images_per_s=ips, median_images_per_s=float(np.median(reps)),
                       ratio_to_plain_loop=ips / max(base) if base else None, gflops=gflops,
                       fraction_of_matmul=gflops / mm,
                       fraction_of_kernel_ceiling=ips / ceilings[nets] if algorithm == "alg1" else None)
        rows.append(row)
    return rows


def _fmt(v, spec, scale=1.0):
    return format(v * scale, spec) if v is not None else "-".rjust(len(format(0.0, spec)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=10, help="timed train steps per row")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3,
                   help="measurements per training row, round-robin, seeds 0, 1, ... (best and median reported)")
    p.add_argument("--reps", type=int, default=200, help="latency repetitions")
    p.add_argument("--quick", action="store_true", help="smoke run: few steps, one repeat")
    p.add_argument("--kernels-only", action="store_true",
                   help="only the matmul and per-layer kernel probes (a minute or two), no training rows")
    p.add_argument("--nets", nargs="+", choices=tuple(NETWORKS), default=list(NETWORKS),
                   help="networks to train: the TF DCGAN tutorial's and/or kgan's DCGAN")
    p.add_argument("--xla", action=argparse.BooleanOptionalAction, default=True, help="include XLA rows")
    p.add_argument("--before-rows", action="store_true",
                   help="also the tutorial's 'before' rows (taped G, host sync, no prefetch, steps_per_execution)")
    p.add_argument("--torch-python", default=None,
                   help="a Python with torch installed (a side environment): adds PyTorch eager rows")
    p.add_argument("--data-dir", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist"))
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "throughput.json"))
    a = p.parse_args(argv)
    if a.quick:
        a.steps, a.reps, a.repeats = 3, 20, 1
    if os.path.isdir(a.data_dir):
        images, _ = kgan.data.load("mnist_idx", a.data_dir)
    else:
        images, _ = kgan.data.load("digits")
    gpus = tf.config.list_physical_devices("GPU")
    device = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else (
        f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"oneDNN {'on' if kgan._cpu.onednn_enabled() else 'off'}, set by {kgan._cpu.DECIDED_BY})")

    per_net, flops = {}, {}
    mm_before, mm_sizes = matmul_gflops()
    for nets in a.nets:
        make_g, make_d, default_up = NETWORKS[nets]
        g_fwd, d_fwd = forward_flops(make_g(default_up)), forward_flops(make_d())
        flops[nets] = {"alg1": train_flops_per_image(g_fwd, d_fwd),
                       "shared": train_flops_per_image(g_fwd, d_fwd, shared_fakes=True)}
        kernels, ceiling = kernel_ceiling(a.batch, flops[nets]["alg1"], nets)
        per_net[nets] = {"generator_forward": g_fwd, "discriminator_forward": d_fwd, "flops": flops[nets]["alg1"],
                         "flops_shared": flops[nets]["shared"], "layers": kernels, "ceiling": ceiling}
    if a.kernels_only:
        result = {"command": _command(argv), "device": device, "tensorflow": tf.__version__,
                  "batch": a.batch, "matmul_gflops": mm_before, "matmul_gflops_by_size": mm_sizes,
                  "networks": per_net}
        _print_kernels(device, mm_before, mm_sizes, per_net)
        return _write(a.out, result)

    paths = training_paths(images, a)
    # Repeats go round-robin over the rows (a different seed each round) so
    # that a slow spell of the shared machine hits every row alike.
    measured = {(n, name): [] for n, name, _, _, _ in paths}
    notes, gan, extra = {}, None, {}
    for rep in range(a.repeats):
        for nets, name, _, _, fn in paths:
            key = (nets, name)
            if key in notes and not measured[key]:
                continue  # skipped in the first round: the option is not there
            try:
                out = fn(rep)
            except Skipped as e:
                notes[key] = f"skipped: {e}"
                print(f"  [{nets}] {name}: {notes[key]}", flush=True)
                continue
            if isinstance(out, tuple):
                out, obj = out
                if isinstance(obj, kgan.GAN):
                    if name == "kgan fit, jit_compile='auto'":
                        notes[key] = f"resolved to jit_compile={obj.jit_compile!r}"
                    if nets == "tutorial" and name == "kgan fit":
                        gan = obj
                else:
                    extra[key] = obj
            measured[key].append(out)
            print(f"  [{nets}] {name}: {out:.1f} img/s", flush=True)
    mm_after, _ = matmul_gflops()
    mm = max(mm_before, mm_after)
    ceilings = {n: per_net[n]["ceiling"]["images_per_s"] for n in a.nets}
    rows = summarise_rows(paths, measured, notes, flops, mm, ceilings)
    for r in rows:
        if (r["networks"], r["path"]) in extra:
            r["info"] = extra[(r["networks"], r["path"])]

    serve = serving(gan, a.reps, a.batch) if gan is not None else None
    result = {
        "command": _command(argv),
        "device": device, "tensorflow": tf.__version__, "keras": keras.__version__,
        "onednn": {"enabled": kgan._cpu.onednn_enabled(), "decided_by": kgan._cpu.DECIDED_BY,
                   kgan._cpu.VARIABLE: os.environ.get(kgan._cpu.VARIABLE)},
        "batch": a.batch, "timed_steps": a.steps, "repeats": a.repeats,
        "matmul_gflops": mm, "matmul_gflops_by_size": mm_sizes, "matmul_gflops_start_end": [mm_before, mm_after],
        "networks": per_net, "training": rows, "serving": serve,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if serve:
        result["serving_export_vs_generate_at_batch"] = serve["export_images_per_s"] / serve["generate_images_per_s"]
    _print_kernels(device, mm, mm_sizes, per_net)
    print(f"matmul at the end: {mm_after:.1f} GFLOP/s (reference: best of start and end, {mm:.1f})")
    print(f"{'nets':8s} {'path':34s} {'img/s':>7s} {'median':>7s} {'x plain':>7s} {'GFLOP/s':>7s} "
          f"{'%matmul':>7s} {'%kern':>6s}  note")
    for r in rows:
        print(f"{r['networks']:8s} {r['path']:34s} {_fmt(r.get('images_per_s'), '7.1f')} "
              f"{_fmt(r.get('median_images_per_s'), '7.1f')} {_fmt(r.get('ratio_to_plain_loop'), '7.2f')} "
              f"{_fmt(r.get('gflops'), '7.1f')} {_fmt(r.get('fraction_of_matmul'), '7.1f', 100)} "
              f"{_fmt(r.get('fraction_of_kernel_ceiling'), '6.1f', 100)}  {r['note'] or ''}")
    if serve:
        print(f"serving  batch 1 p50/p99 ms: export {serve['export_p50_ms']:.2f}/{serve['export_p99_ms']:.2f}"
              f"  generate {serve['generate_p50_ms']:.2f}/{serve['generate_p99_ms']:.2f}")
        print(f"serving  batch {a.batch} img/s: export {serve['export_images_per_s']:.0f}"
              f"  generate {serve['generate_images_per_s']:.0f}"
              f"  (export/generate {result['serving_export_vs_generate_at_batch']:.2f})")
    print(f"peak RSS: {result['peak_rss_mb']:.0f} MB")
    return _write(a.out, result)


if __name__ == "__main__":
    main()
