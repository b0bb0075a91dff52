"""Discriminator regularisers: pure functions and the model pieces built on them.

Each penalty returns PER-EXAMPLE values of shape ``[batch]`` (one value per
discriminator input), like the losses in :mod:`kgan.losses`. The train step
sums them over the replica's examples and divides by the GLOBAL batch, so
under ``tf.distribute`` the summed gradients are those of the global-batch
penalty. Whole-model terms (:func:`weight_penalty`) return one scalar, which
the train step divides by the replica count instead.

Gradient penalties differentiate ``discriminator_fn`` with respect to its
input inside an inner ``tf.GradientTape``; called under an outer tape that
watches D's weights, the penalty's own gradient (a second derivative) flows
to D as the papers require.

Cross-sample layers (batch norm in training mode, minibatch standard
deviation) make ``d D(x_i) / d x_i`` depend on the other samples of the
batch; Gulrajani et al. (2017) drop batch norm from the critic for this
reason (``kgan.WGANGP`` uses layer norm in its DCGAN critic).

The pieces (:class:`GradientPenalty`, :class:`R1`, :class:`WeightPenalty`)
are :class:`kgan.core.pieces.Term` objects for a model's ``terms`` list.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from kgan.core.pieces import Term


def safe_norm(x, axis=-1):
    """Euclidean norm that is exactly 0, with gradient 0, at ``x = 0``.

    ``sqrt`` has an infinite derivative at 0, so the plain ``ops.norm`` of a
    zero gradient yields ``0 * inf = NaN`` when back-propagated (the bug
    reported against several public WGAN-GP examples). The double ``where``
    keeps the NaN out of both branches.

    Args:
        x: tensor.
        axis: axis (or tuple of axes) to reduce.

    Returns:
        ``sqrt(sum(x**2, axis))``.

    Example:
        >>> safe_norm([[3.0, 4.0], [0.0, 0.0]])  # [5, 0]
    """
    sq = ops.sum(ops.square(x), axis=axis)
    positive = sq > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, sq, ops.ones_like(sq))),
                     ops.zeros_like(sq))


def _input_gradients(discriminator_fn, x):
    """``d sum(D(x)) / dx``: per-example input gradients for per-example D."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = ops.cast(discriminator_fn(x), "float32")
        total = ops.sum(out)
    grads = tape.gradient(total, x)
    if grads is None:  # D does not depend on its input: the gradient is 0
        grads = ops.zeros_like(x)
    return ops.reshape(ops.cast(grads, "float32"), (ops.shape(x)[0], -1))


def interpolate(real, fake, epsilon):
    """``x_hat = eps * real + (1 - eps) * fake`` with one ``eps`` per sample.

    Args:
        real: ``[batch, ...]``.
        fake: ``[batch, ...]``, same shape.
        epsilon: ``[batch]`` (or broadcastable ``[batch, 1, ...]``) weights
            in [0, 1].

    Returns:
        Interpolates, shaped like ``real``.

    Example:
        >>> interpolate(ops.ones((2, 3)), ops.zeros((2, 3)), [0.25, 1.0])
    """
    real = ops.convert_to_tensor(real)
    fake = ops.cast(fake, real.dtype)
    eps = ops.cast(ops.convert_to_tensor(epsilon), real.dtype)
    eps = ops.reshape(eps, (-1,) + (1,) * (len(real.shape) - 1))
    return eps * real + (1.0 - eps) * fake


def uniform_epsilon(batch_size, seed=None):
    """Interpolation weights ``eps ~ U[0, 1]``, one per sample (not normal).

    Example:
        >>> uniform_epsilon(4, seed=0).shape
        (4,)
    """
    return keras.random.uniform((batch_size,), 0.0, 1.0, seed=seed)


def gradient_penalty(discriminator_fn, real, fake, epsilon=None, target=1.0,
                     one_sided=False, seed=None):
    """WGAN-GP penalty on random interpolates between real and fake samples.

    ``GP_i = (||grad_x D(x_hat_i)||_2 - target)^2`` with
    ``x_hat_i = eps_i x_i + (1 - eps_i) x~_i`` and ``eps_i ~ U[0, 1]`` drawn
    per sample. ``one_sided=True`` gives ``max(0, ||grad|| - target)^2``
    (WGAN-LP, Petzka et al. 2018). Multiply by the weight (lambda = 10 in the
    paper) yourself.

    Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017,
    Algorithm 1.

    Args:
        discriminator_fn: ``x -> scores [batch, ...]``, one score per sample
            (close over labels for a conditional D).
        real: real samples ``[batch, ...]``.
        fake: generated samples, same shape (no gradient to G is needed).
        epsilon: ``[batch]`` weights; drawn ``U[0, 1]`` with ``seed`` when
            ``None``. The GAN passes weights drawn for the global batch so
            that N replicas equal one device.
        target: the norm the gradient is pulled to (1 for 1-Lipschitz).
        one_sided: penalise only norms above ``target``.
        seed: seed for ``epsilon`` when it is not given.

    Returns:
        Per-example penalty, ``[batch]``. No NaN when the gradient is 0 (the
        value is then ``target**2``).

    Example:
        >>> d = lambda x: ops.sum(x * [3.0, 4.0], axis=-1)  # grad = (3, 4)
        >>> gradient_penalty(d, ops.ones((2, 2)), ops.zeros((2, 2)), [0.5, 0.5])
        # [16, 16] = (5 - 1)^2
    """
    real = ops.cast(real, "float32")
    if epsilon is None:
        epsilon = uniform_epsilon(ops.shape(real)[0], seed=seed)
    x_hat = interpolate(real, fake, epsilon)
    norm = safe_norm(_input_gradients(discriminator_fn, x_hat), axis=-1)
    gap = norm - target
    if one_sided:
        gap = ops.relu(gap)
    return ops.square(gap)


def r1_penalty(discriminator_fn, real, gamma=10.0):
    """R1 gradient penalty on real data: ``(gamma / 2) ||grad_x D(x)||^2``.

    Penalising the gradient on real samples only makes the GAN game locally
    convergent (Mescheder et al., "Which Training Methods for GANs do
    actually Converge?", ICML 2018, eq. 9). No square root is taken, so a
    zero gradient gives exactly 0.

    Args:
        discriminator_fn: ``x -> scores [batch, ...]``.
        real: real samples ``[batch, ...]``.
        gamma: penalty weight (``gamma / 2`` multiplies the squared norm).

    Returns:
        Per-example penalty, ``[batch]``.

    Example:
        >>> d = lambda x: ops.sum(x * [3.0, 4.0], axis=-1)
        >>> r1_penalty(d, ops.ones((2, 2)), gamma=2.0)  # [25, 25]
    """
    grads = _input_gradients(discriminator_fn, ops.cast(real, "float32"))
    return 0.5 * gamma * ops.sum(ops.square(grads), axis=-1)


def weight_penalty(variables):
    """Squared L2 norm of the weight matrices: ``sum_W ||W||_F^2``.

    Only variables with two or more dimensions (dense and convolution
    kernels, embeddings) count; biases and normalisation scales are left
    free, as in weight decay for GANs (e.g. Brock et al. 2019 use it on D's
    weights). Multiply by the coefficient yourself.

    Args:
        variables: iterable of variables (e.g.
            ``discriminator.trainable_variables``).

    Returns:
        A float32 scalar.

    Example:
        >>> weight_penalty(d.trainable_variables)
    """
    terms = [ops.sum(ops.square(ops.cast(v, "float32"))) for v in variables
             if len(v.shape) >= 2]
    if not terms:
        return ops.convert_to_tensor(0.0, "float32")
    return ops.sum(ops.stack(terms))


def _nonneg(name, value):
    if value is None or float(value) < 0:
        raise ValueError(f"{name} must be >= 0, got {value}.")
    return float(value)


def _count(name, value):
    """``value`` as an int >= 1, or a ValueError naming ``name``."""
    if int(value) < 1 or int(value) != value:
        raise ValueError(f"{name} must be an integer >= 1, got {value}.")
    return int(value)


@keras.saving.register_keras_serializable(package="kgan")
class GradientPenalty(Term):
    """The WGAN-GP / WGAN-LP penalty as a discriminator term.

    ``weight * (||grad D(x_hat)|| - 1)^2`` on uniform interpolates of the
    (viewed) real and fake D inputs; the interpolation weights are drawn
    for the global batch from the model's seed, so N replicas equal one
    device. See :func:`gradient_penalty`.

    Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017;
    Petzka et al., "On the regularization of Wasserstein GANs", ICLR 2018
    (``one_sided=True``).

    Args:
        weight: lambda (10 in the paper).
        one_sided: WGAN-LP's ``max(0, ||grad|| - 1)^2``.

    Example:
        >>> kgan.GAN(data_shape=(2,), loss="wasserstein", terms=[GradientPenalty(10.0)])
    """

    def __init__(self, weight=10.0, one_sided=False):
        self.weight = _nonneg("GradientPenalty weight", weight)
        self.one_sided = bool(one_sided)

    def discriminator(self, record):
        model = record.model
        eps = model.draw(lambda n: uniform_epsilon(n, seed=model.seed_generator),
                         ops.shape(record.real)[0])
        return self.weight * gradient_penalty(record.critic, record.real, record.fake, eps,
                                              one_sided=self.one_sided)

    def get_config(self):
        return {"weight": self.weight, "one_sided": self.one_sided}


@keras.saving.register_keras_serializable(package="kgan")
class R1(Term):
    """The R1 penalty ``gamma/2 ||grad D(x)||^2`` on D's real inputs.

    Mescheder et al., "Which Training Methods for GANs do actually
    Converge?", ICML 2018, eq. 9. See :func:`r1_penalty`.

    Lazy regularization (Karras et al., "Analyzing and Improving the Image
    Quality of StyleGAN", CVPR 2020, section 3.1): with ``every = k`` the
    penalty is computed on one D update in k (the first, then every k-th)
    with weight ``k * gamma``, saving the double backward pass on the others.

    Args:
        gamma: the penalty weight.
        every: compute it every this many D updates (StyleGAN2: 16).

    Example:
        >>> kgan.GAN(data_shape=(2,), terms=[R1(gamma=1.0)])
        >>> kgan.GAN(data_shape=(2,), terms=[R1(gamma=1.0, every=4)])  # lazy
    """

    def __init__(self, gamma=10.0, every=1):
        self.gamma = _nonneg("R1 gamma", gamma)
        self.every = _count("R1 every", every)

    def discriminator(self, record):
        if self.every == 1:
            return r1_penalty(record.critic, record.real, self.gamma)
        due = ops.equal(record.model.d_optimizer.iterations % self.every, 0)
        return ops.cond(due, lambda: r1_penalty(record.critic, record.real, self.gamma * self.every),
                        lambda: ops.zeros((ops.shape(record.real)[0],), "float32"))

    def get_config(self):
        return {"gamma": self.gamma, "every": self.every}


@keras.saving.register_keras_serializable(package="kgan")
class WeightPenalty(Term):
    """``coefficient * sum ||W||^2`` over D's weight matrices (a whole-model term).

    Brock et al., "Large Scale GAN Training for High Fidelity Natural Image
    Synthesis", ICLR 2019, use such a penalty on D. See
    :func:`weight_penalty`.

    Args:
        coefficient: the penalty weight.

    Example:
        >>> kgan.GAN(data_shape=(2,), terms=[WeightPenalty(1e-4)])
    """

    per_example = False

    def __init__(self, coefficient=1e-4):
        self.coefficient = _nonneg("WeightPenalty coefficient", coefficient)

    def discriminator(self, record):
        return self.coefficient * weight_penalty(record.model.discriminator.trainable_variables)

    def get_config(self):
        return {"coefficient": self.coefficient}
