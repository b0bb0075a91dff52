"""Feature extractors: networks that turn images into activations for the metrics.

- :class:`InceptionFeatures`: InceptionV3 (``keras.applications``) pool3
  features (2048-d) and ImageNet logits, for FID / KID / Inception score /
  precision-recall on natural images. Weights come from a local file or the
  Keras cache; there is no silent fallback to random weights.
- :class:`MnistClassifier`: a small CNN trained by this project
  (``benchmarks/train_mnist_classifier.py``) whose penultimate features and
  logits give a Fréchet classifier distance, a classifier score, class
  histograms and conditional accuracy for MNIST-like digits.
- :class:`DigitsClassifier`: the same architecture trained
  (``benchmarks/train_digits_classifier.py``) on scikit-learn's bundled
  digits upsampled to 28x28, to judge GANs trained on ``dataset="digits"``.

Extractors take images in [-1, 1] (the range of kgan's generators) or uint8
pixels, with shape ``[N, H, W, C]``.
"""

from __future__ import annotations

import json
import os

import numpy as np

INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_WEIGHTS_FILE_NOTOP = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                         "inception_v3/" + INCEPTION_WEIGHTS_FILE)

ASSETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
MNIST_CLASSIFIER_WEIGHTS = os.path.join(ASSETS_DIR, "mnist_classifier.weights.h5")
MNIST_CLASSIFIER_INFO = os.path.join(ASSETS_DIR, "mnist_classifier.json")
DIGITS_CLASSIFIER_WEIGHTS = os.path.join(ASSETS_DIR, "digits_classifier.weights.h5")
# scikit-learn's 1,797 bundled digits, in their shipped order: the classifier
# trains on the first part; the rest is held out and is the "real" reference
# that run reports compare generated digits with.
DIGITS_SPLIT = {"classifier_train": (0, 1300), "heldout": (1300, 1797)}


class WeightsNotFoundError(FileNotFoundError):
    """Pretrained weights that a feature extractor needs are not available."""


def to_unit_range(images, name="images"):
    """Returns float32 images in [-1, 1] with a channel axis.

    uint8 pixels are mapped from [0, 255]; float images must already be in
    [-1, 1] (a small tolerance is allowed), anything else is an error rather
    than a silent rescale.

    Args:
        images: ``[N, H, W, C]`` or ``[N, H, W]``, uint8 or float.
        name: name used in error messages.

    Returns:
        float32 ``[N, H, W, C]`` numpy array.

    Example:
        >>> to_unit_range(np.full((1, 2, 2), 255, np.uint8)).max()
        1.0
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"{name}: expected images [N, H, W, C], got shape {x.shape}.")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 127.5 - 1.0
    x = x.astype(np.float32)
    if x.size and (not np.all(np.isfinite(x)) or x.min() < -1.01 or x.max() > 1.01):
        raise ValueError(f"{name}: float images must be finite and in [-1, 1] (kgan's range); "
                         f"got values in [{np.nanmin(x):.3g}, {np.nanmax(x):.3g}]. Pass uint8 "
                         f"pixels or rescale first.")
    return np.clip(x, -1.0, 1.0)


def _keras_cache_dirs():
    dirs = []
    if os.environ.get("KERAS_HOME"):
        dirs.append(os.environ["KERAS_HOME"])
    try:
        from keras.src.backend import config as _config  # private: Keras's resolved home

        dirs.append(_config.keras_home())
    except Exception:  # pragma: no cover - Keras internals moved
        pass
    dirs += [os.path.join(os.path.expanduser("~"), ".keras"), os.path.join("/tmp", ".keras")]
    out = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def find_inception_weights(cache_dir=None):
    """Looks for InceptionV3 ImageNet weights in the Keras cache.

    Args:
        cache_dir: a Keras home folder to search (its ``models/``
            sub-folder); default: ``$KERAS_HOME``, ``~/.keras`` and
            ``/tmp/.keras``.

    Returns:
        ``(path, include_top)`` of the first file found (the full model is
        preferred over the no-top one), or ``(None, None)``.

    Example:
        >>> find_inception_weights()
        ('/home/me/.keras/models/inception_v3_weights_tf_dim_ordering_tf_kernels.h5', True)
    """
    dirs = [cache_dir] if cache_dir else _keras_cache_dirs()
    for fname, top in ((INCEPTION_WEIGHTS_FILE, True), (INCEPTION_WEIGHTS_FILE_NOTOP, False)):
        for d in dirs:
            p = os.path.join(os.path.expanduser(d), "models", fname)
            if os.path.isfile(p):
                return p, top
    return None, None


def _batched(fn, x, batch_size):
    outs = [fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if not outs:
        raise ValueError("No images given.")
    return [np.concatenate([o[j] for o in outs], 0) for j in range(len(outs[0]))]


class InceptionFeatures:
    """InceptionV3 pool3 features (2048-d) and ImageNet logits (1000-d).

    Images are mapped to InceptionV3's input: gray images are repeated to
    RGB, resized bilinearly to 299x299, and kept in [-1, 1] (which is what
    ``keras.applications.inception_v3.preprocess_input`` produces from
    [0, 255] pixels).

    Weights are never downloaded or invented silently:

    - ``weights="imagenet"`` (default) uses the file in the Keras cache
      (``~/.keras/models/inception_v3_weights_tf_dim_ordering_tf_kernels.h5``
      or the ``_notop`` file, which gives features but no logits). If it is
      missing, :class:`WeightsNotFoundError` says how to get it, unless
      ``allow_download=True``, which lets Keras download it.
    - ``weights="/path/to/file.h5"`` loads that file (full model or no-top).
    - ``weights=None`` (random weights) is refused: random features would
      give meaningless FID values.

    Note: these are Keras's InceptionV3 weights, not the 2015 TF graph that
    the reference FID code (Heusel et al.) uses, so absolute FID values are
    close to but not identical with published ones; compare kgan figures
    with kgan figures.

    Args:
        weights: ``"imagenet"`` or a path to an ``.h5`` weights file.
        batch_size: images per forward pass.
        allow_download: let Keras download the ImageNet weights when they are
            not cached (needs network access).
        cache_dir: a Keras home folder to look in instead of the defaults.

    Example:
        >>> inception = InceptionFeatures()
        >>> fid = frechet_distance(inception.features(real), inception.features(fake))
    """

    image_size = 299
    feature_dim = 2048

    def __init__(self, weights="imagenet", batch_size=64, allow_download=False,
                 cache_dir=None, *, _allow_random_weights=False):
        self.batch_size = int(batch_size)
        include_top = True
        if weights is None:
            if not _allow_random_weights:
                raise ValueError(
                    "InceptionFeatures needs pretrained weights: weights=None would give random "
                    "features and meaningless FID/KID/IS values. Pass weights='imagenet' (with "
                    "the file in the Keras cache) or a path to the .h5 file.")
            source = None
        elif weights == "imagenet":
            path, include_top = find_inception_weights(cache_dir)
            if path is not None:
                source = path
            elif allow_download:
                source, include_top = "imagenet", True
            else:
                where = [os.path.join(d, "models") for d in
                         ([cache_dir] if cache_dir else _keras_cache_dirs())]
                raise WeightsNotFoundError(
                    f"InceptionV3 ImageNet weights not found (looked for {INCEPTION_WEIGHTS_FILE} "
                    f"and the _notop variant in {where}). Download {INCEPTION_WEIGHTS_URL} into "
                    f"~/.keras/models/, pass weights='/path/to/{INCEPTION_WEIGHTS_FILE}', or pass "
                    f"allow_download=True on a machine with network access.")
        else:
            source = os.fspath(weights)
            if not os.path.isfile(source):
                raise WeightsNotFoundError(f"InceptionV3 weights file {source!r} does not exist.")
            include_top = "notop" not in os.path.basename(source)
        self.weights = source
        self.has_logits = include_top
        self._model = self._build(source, include_top)

    @staticmethod
    def _build(source, include_top):
        import keras

        try:
            if include_top:
                base = keras.applications.InceptionV3(include_top=True, weights=source,
                                                      classifier_activation=None)
                outputs = [base.get_layer("avg_pool").output, base.output]
            else:
                base = keras.applications.InceptionV3(include_top=False, weights=source,
                                                      pooling="avg")
                outputs = [base.output]
        except Exception as e:
            if source == "imagenet":
                raise WeightsNotFoundError(
                    f"Could not download the InceptionV3 weights ({e}). Put {INCEPTION_WEIGHTS_FILE} "
                    f"in ~/.keras/models/ or pass its path as weights=.") from e
            raise
        return keras.Model(base.input, outputs, name="inception_features")

    def preprocess(self, images):
        """Maps images to InceptionV3's input: ``[N, 299, 299, 3]`` in [-1, 1].

        Example:
            >>> InceptionFeatures().preprocess(np.zeros((2, 28, 28, 1))).shape
            (2, 299, 299, 3)
        """
        import tensorflow as tf

        x = to_unit_range(images)
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        if x.shape[-1] != 3:
            raise ValueError(f"InceptionFeatures needs 1 or 3 channels, got {x.shape[-1]}.")
        if x.shape[1:3] != (self.image_size, self.image_size):
            x = tf.image.resize(x, (self.image_size, self.image_size), method="bilinear").numpy()
        return np.clip(x, -1.0, 1.0)

    def _run(self, batch):
        outs = self._model(self.preprocess(batch), training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return [np.asarray(o, np.float64) for o in outs]

    def features_and_logits(self, images):
        """Returns ``(features [N, 2048], logits [N, 1000])`` in one pass.

        Example:
            >>> feats, logits = InceptionFeatures().features_and_logits(images)
        """
        if not self.has_logits:
            raise ValueError("These are no-top InceptionV3 weights: features only, no logits. "
                             f"Use {INCEPTION_WEIGHTS_FILE} for the Inception score.")
        feats, logits = _batched(self._run, images, self.batch_size)
        return feats, logits

    def features(self, images):
        """Pool3 features ``[N, 2048]`` (float64).

        Example:
            >>> InceptionFeatures().features(images).shape
            (N, 2048)
        """
        return _batched(self._run, images, self.batch_size)[0]

    def logits(self, images):
        """ImageNet logits ``[N, 1000]`` (pre-softmax), for the Inception score.

        Example:
            >>> classifier_score(InceptionFeatures().logits(images))
        """
        return self.features_and_logits(images)[1]


def build_mnist_classifier():
    """The architecture of :class:`MnistClassifier` (untrained).

    Three 3x3 convolutions (32, 64, 64 filters, ReLU, two 2x2 max-pools), a
    128-unit ReLU layer named ``features`` (the activations used for the
    Fréchet classifier distance), dropout 0.3, and 10 logits. About 131k
    parameters (0.5 MB).

    Returns:
        A ``keras.Model`` mapping ``[N, 28, 28, 1]`` images in [-1, 1] to
        logits ``[N, 10]``.

    Example:
        >>> build_mnist_classifier().output.shape
        (None, 10)
    """
    import keras
    from keras import layers

    x_in = keras.Input((28, 28, 1), name="images")
    x = layers.Conv2D(32, 3, activation="relu", name="conv_0")(x_in)
    x = layers.MaxPooling2D(name="pool_0")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv_1")(x)
    x = layers.MaxPooling2D(name="pool_1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv_2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="features")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    out = layers.Dense(10, name="logits")(x)
    return keras.Model(x_in, out, name="mnist_classifier")


class MnistClassifier:
    """The project's MNIST digit classifier as a feature extractor.

    Trained by ``benchmarks/train_mnist_classifier.py`` on the first 4,000
    images of the MNIST 10k test split (images 4,000-4,999 held out for its
    accuracy), so the last 5,000 images, which the benchmarks train GANs on,
    were never seen by it. Its measured accuracy is in
    ``kgan/assets/mnist_classifier.json`` and ``benchmarks/README.md``.

    Args:
        weights: path of the ``.weights.h5`` file; default: the one shipped
            in ``kgan/assets``.
        batch_size: images per forward pass.

    Example:
        >>> clf = MnistClassifier()
        >>> fcd = frechet_distance(clf.features(real), clf.features(fake))
        >>> conditional_accuracy(clf.logits(fake), requested_labels)
    """

    num_classes = 10
    feature_dim = 128

    def __init__(self, weights=None, batch_size=500):
        import keras

        path = os.fspath(weights) if weights is not None else MNIST_CLASSIFIER_WEIGHTS
        if not os.path.isfile(path):
            raise WeightsNotFoundError(
                f"MNIST classifier weights {path!r} not found. Train them with "
                f"`python benchmarks/train_mnist_classifier.py` (see benchmarks/README.md).")
        self.weights = path
        self.batch_size = int(batch_size)
        net = build_mnist_classifier()
        net.load_weights(path)
        self.network = net
        self._model = keras.Model(net.input, [net.get_layer("features").output, net.output])
        info_path = os.path.splitext(os.path.splitext(path)[0])[0] + ".json"
        self.info = {}
        if os.path.isfile(info_path):
            with open(info_path) as f:
                self.info = json.load(f)

    def _run(self, batch):
        x = to_unit_range(batch)
        if x.shape[1:] != (28, 28, 1):
            raise ValueError(f"MnistClassifier needs [N, 28, 28, 1] images, got {x.shape}.")
        return [np.asarray(o, np.float64) for o in self._model(x, training=False)]

    def features_and_logits(self, images):
        """Returns ``(features [N, 128], logits [N, 10])`` in one pass.

        Example:
            >>> feats, logits = MnistClassifier().features_and_logits(images)
        """
        feats, logits = _batched(self._run, images, self.batch_size)
        return feats, logits

    def features(self, images):
        """Penultimate-layer activations ``[N, 128]``.

        Example:
            >>> MnistClassifier().features(images).shape
            (N, 128)
        """
        return self.features_and_logits(images)[0]

    def logits(self, images):
        """Class logits ``[N, 10]``.

        Example:
            >>> MnistClassifier().logits(images).argmax(1)
        """
        return self.features_and_logits(images)[1]

    def predict(self, images):
        """Predicted digit per image ``[N]``.

        Example:
            >>> MnistClassifier().predict(images)
        """
        return self.logits(images).argmax(1)


class DigitsClassifier(MnistClassifier):
    """The MNIST classifier's architecture trained on scikit-learn's digits.

    Trained by ``benchmarks/train_digits_classifier.py`` on digits 0-1,299
    of ``sklearn.datasets.load_digits()`` (upsampled to 28x28 by
    ``kgan.data.load_digits_images``, the same preprocessing the ``digits``
    training set gets); digits 1,300-1,796 are held out (``DIGITS_SPLIT``).
    Its measured accuracy is in ``kgan/assets/digits_classifier.json``.

    Args:
        weights: path of the ``.weights.h5`` file; default: the one shipped
            in ``kgan/assets``.
        batch_size: images per forward pass.

    Example:
        >>> probs = softmax(DigitsClassifier().logits(gan.generate(500, seed=0)))
    """

    def __init__(self, weights=None, batch_size=500):
        path = os.fspath(weights) if weights is not None else DIGITS_CLASSIFIER_WEIGHTS
        if not os.path.isfile(path):
            raise WeightsNotFoundError(
                f"digits classifier weights {path!r} not found. Train them with "
                f"`python benchmarks/train_digits_classifier.py`.")
        super().__init__(path, batch_size)
