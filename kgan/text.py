"""Text for text-to-image GANs: a character tokenizer and a character-CNN encoder.

Reed et al. (2016), "Generative Adversarial Text to Image Synthesis", condition
both networks on a sentence embedding from a character-level encoder
(char-CNN-RNN) pre-trained on caption/image pairs and then frozen. kgan
follows that choice, with a smaller encoder:

* the tokenizer is pure TensorFlow ops (lower-case, collapse spaces, Unicode
  code points mapped into 256 ids), so the exported SavedModel carries it
  with no vocabulary file and TF Serving tokenizes the request itself;
* characters, not words: an unseen word that shares a stem with seen ones
  ("thickly" after "thick") still lands near them, which a word vocabulary
  learned offline cannot do; a word with no seen stem means nothing to it;
* the encoder is pre-trained (on caption/label pairs with
  :func:`pretrain_on_labels`, or caption/image pairs with
  :func:`pretrain_on_images`) and frozen while the GAN trains: the GAN's
  losses would otherwise pull the embedding toward whatever is easiest for
  D, and GAN-INT's interpolations need a fixed, smooth embedding space.

Example:
    >>> encoder = build_text_encoder()
    >>> tokens = tokenize(["a thick seven"])          # int32 [1, 96]
    >>> encoder(tokens).shape
    (1, 64)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import keras
from keras import layers, ops

from kgan.validation import DataError

MAX_CHARS = 96
VOCAB_SIZE = 256  # 0 padding, 1..127 ASCII, 128..255 hashed buckets for other code points
TEXT_ERROR = "kgan: text"


def normalize(texts):
    """Lower-case, trimmed, single-spaced strings (TF op; runs inside the export)."""
    texts = tf.strings.lower(tf.strings.strip(texts))
    return tf.strings.regex_replace(texts, r"\s+", " ")


def lengths(texts):
    """Characters (Unicode code points) of the normalized ``texts``."""
    return tf.strings.length(normalize(texts), unit="UTF8_CHAR")


def tokenize(texts, max_chars=MAX_CHARS):
    """Token ids ``int32 [n, max_chars]`` of strings, 0-padded (TF ops, no vocabulary).

    ASCII characters keep their code; other code points are hashed into
    128..255; bytes that are not UTF-8 become U+FFFD. Longer texts are cut:
    the callers check lengths first (:func:`check_texts`, the export).

    Args:
        texts: strings, ``[n]`` (a list, numpy array or tf.string tensor).
        max_chars: the encoder's input length.

    Example:
        >>> tokenize(["Ab"], max_chars=4).numpy()
        array([[97, 98,  0,  0]], dtype=int32)
    """
    codes = tf.strings.unicode_decode(normalize(texts), "UTF-8", errors="replace")
    codes = codes[:, :max_chars]
    codes = tf.where(codes < 128, codes, 128 + codes % 128)
    codes = tf.where(codes == 0, 128, codes)  # NUL is not padding
    return tf.cast(codes.to_tensor(0, shape=[None, max_chars]), tf.int32)


def check_texts(texts, max_chars=MAX_CHARS, where="texts"):
    """The texts as a numpy array of str, or :class:`kgan.DataError` naming the problem.

    Refuses: a non-sequence or non-string entries, no texts, empty
    (whitespace-only) texts, texts longer than ``max_chars`` characters.

    Example:
        >>> check_texts(["a thin 1"]).shape
        (1,)
    """
    if isinstance(texts, (str, bytes)):
        raise DataError(f"{where}: expected a list of strings, got a single string; "
                        f"wrap it in a list.")
    arr = np.asarray(texts, dtype=object).reshape(-1) if not isinstance(texts, np.ndarray) \
        else texts.reshape(-1)
    if arr.size == 0:
        raise DataError(f"{where}: expected at least one text, got none.")
    bad = [i for i, t in enumerate(arr) if not isinstance(t, (str, bytes, np.str_, np.bytes_))]
    if bad:
        raise DataError(f"{where}: expected strings, got {type(arr[bad[0]]).__name__} at "
                        f"row {bad[0]}.")
    n = lengths(tf.constant([t if isinstance(t, bytes) else str(t).encode() for t in arr]))
    n = n.numpy()
    if (n == 0).any():
        raise DataError(f"{where}: expected non-empty texts, got an empty one at row "
                        f"{int(np.argmax(n == 0))}.")
    if (n > max_chars).any():
        i = int(np.argmax(n > max_chars))
        raise DataError(f"{where}: expected at most {max_chars} characters, got {int(n[i])} "
                        f"at row {i}.")
    return arr


@keras.saving.register_keras_serializable(package="kgan")
class MaskedMax(layers.Layer):
    """Max over positions of non-negative features ``[n, L, c]``, padding (token 0) excluded."""

    def call(self, inputs):
        x, tokens = inputs
        mask = ops.cast(ops.expand_dims(tokens > 0, -1), x.dtype)
        return ops.max(x * mask, axis=1)  # features are >= 0 (ReLU): a zeroed pad never wins

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][2])


def build_text_encoder(max_chars=MAX_CHARS, embedding_dim=64, filters=128, char_dim=32,
                       name="text_encoder"):
    """A character CNN: token ids ``[n, max_chars]`` -> sentence embedding ``[n, embedding_dim]``.

    Two convolutions (widths 3 and 5: a 7-character field, a short word or
    stem) and a max over positions (padding masked out): a bag of detected
    character n-grams, which is what these captions need; ``tanh`` keeps
    the embedding (and GAN-INT's interpolations) bounded.

    Args:
        max_chars: token length.
        embedding_dim: size of the sentence embedding.
        filters: channels of the convolutions.
        char_dim: size of each character's embedding.
        name: model name.

    Example:
        >>> build_text_encoder(embedding_dim=16)(tokenize(["seven"])).shape
        (1, 16)
    """
    tokens = keras.Input((max_chars,), dtype="int32", name="tokens")
    x = layers.Embedding(VOCAB_SIZE, char_dim, name="chars")(tokens)
    x = layers.Conv1D(filters, 3, padding="same", activation="relu", name="conv_3")(x)
    x = layers.Conv1D(filters, 5, padding="same", activation="relu", name="conv_5")(x)
    x = MaskedMax(name="max_over_chars")([x, tokens])
    out = layers.Dense(embedding_dim, activation="tanh", name="embedding")(x)
    return keras.Model(tokens, out, name=name)


def encode(encoder, texts, batch_size=512):
    """Embeddings ``float32 [n, embedding_dim]`` of checked ``texts``.

    Example:
        >>> encode(encoder, ["a thick 7"]).shape
        (1, 64)
    """
    max_chars = int(encoder.input_shape[-1])
    texts = check_texts(texts, max_chars)
    out = [ops.convert_to_numpy(encoder(tokenize(list(texts[i:i + batch_size]), max_chars),
                                        training=False))
           for i in range(0, len(texts), batch_size)]
    return np.concatenate(out).astype("float32")


# English letter frequencies (per cent), for pseudo-words with realistic n-grams.
_LETTERS = "etaoinshrdlcumwfgypbvkjxqz"
_FREQ = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4,
                  2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07])


def add_distractors(texts, rng, max_words=3, max_chars=MAX_CHARS):
    """Each text with 0..``max_words`` random pseudo-words inserted between its words.

    Pre-training augmentation: a character encoder trained on a few
    templates learns spurious cues from their filler words (an unseen
    "there is" or "picture" read as "three"); random letter strings with
    English letter frequencies teach it that words it does not know carry
    nothing. No held-out wording is used.

    Example:
        >>> add_distractors(["a thin 1"], np.random.default_rng(0))
        ['a thin wso 1 aeeugh syuemed']
    """
    p = _FREQ / _FREQ.sum()
    out = []
    for t in texts:
        words = str(t).split(" ")
        for _ in range(rng.integers(0, max_words + 1)):
            word = "".join(rng.choice(list(_LETTERS), rng.integers(2, 9), p=p))
            if len(" ".join(words)) + len(word) + 1 > max_chars:
                break
            words.insert(int(rng.integers(0, len(words) + 1)), word)
        out.append(" ".join(words))
    return out


def _tokens(encoder, captions):
    max_chars = int(encoder.input_shape[-1])
    return tokenize(list(check_texts(captions, max_chars, "captions")), max_chars).numpy()


def pretrain_on_labels(encoder, captions, targets, epochs=5, batch_size=128,
                       learning_rate=2e-3, seed=0, distractors=True, verbose=0):
    """Trains ``encoder`` to predict what each caption says, then freezes it.

    One softmax head per target on the embedding (digit, and for each
    attribute: not mentioned / low / high); the heads are dropped after.

    Args:
        encoder: from :func:`build_text_encoder`.
        captions: ``[n]`` strings.
        targets: dict name -> int array ``[n]`` of class ids.
        epochs, batch_size, learning_rate, seed: the optimisation.
        distractors: insert random pseudo-words into the captions each epoch
            (:func:`add_distractors`), so unknown words are ignored.
        verbose: Keras verbosity.

    Returns:
        dict name -> training accuracy of that head after the last epoch.

    Example:
        >>> pretrain_on_labels(encoder, ["a 7", "a thin 1"], {"digit": [7, 1]})
    """
    texts = list(check_texts(captions, int(encoder.input_shape[-1]), "captions"))
    tokens = _tokens(encoder, texts)
    targets = {k: np.asarray(v, "int32").reshape(-1) for k, v in targets.items()}
    for k, v in targets.items():
        if len(v) != len(tokens):
            raise DataError(f"targets[{k!r}]: expected {len(tokens)} values, one per caption, "
                            f"got {len(v)}.")
    keras.utils.set_random_seed(seed)
    encoder.trainable = True
    emb = encoder.output
    heads = {k: layers.Dense(int(v.max()) + 1, name=f"head_{k}")(emb) for k, v in targets.items()}
    model = keras.Model(encoder.input, heads)
    model.compile(keras.optimizers.Adam(learning_rate),
                  loss={k: keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                        for k in heads},
                  metrics={k: "accuracy" for k in heads})
    rng = np.random.default_rng(seed)
    for _ in range(epochs):  # fresh distractors every epoch
        noisy = _tokens(encoder, add_distractors(texts, rng, max_chars=int(
            encoder.input_shape[-1]))) if distractors else tokens
        hist = model.fit(noisy, targets, batch_size=batch_size, epochs=1, verbose=verbose,
                         shuffle=True)
    encoder.trainable = False
    return {k: float(hist.history[f"{k}_accuracy"][-1]) for k in heads}


class _Contrastive(keras.Model):
    """Symmetric InfoNCE between caption and image embeddings (CLIP-style)."""

    def __init__(self, encoder, image_encoder, temperature=0.1):
        super().__init__()
        self.encoder, self.image_encoder, self.temperature = encoder, image_encoder, temperature
        self.tracker = keras.metrics.Mean(name="loss")

    def train_step(self, data):
        tokens, images = data
        with tf.GradientTape() as tape:
            t = tf.math.l2_normalize(self.encoder(tokens, training=True), -1)
            v = tf.math.l2_normalize(self.image_encoder(images, training=True), -1)
            logits = tf.matmul(t, v, transpose_b=True) / self.temperature
            match = tf.range(tf.shape(logits)[0])
            loss = 0.5 * tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(match, logits, from_logits=True)
                + keras.losses.sparse_categorical_crossentropy(match, tf.transpose(logits),
                                                               from_logits=True))
        variables = self.encoder.trainable_variables + self.image_encoder.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}

    @property
    def metrics(self):
        return [self.tracker]


def pretrain_on_images(encoder, captions, images, epochs=5, batch_size=128,
                       learning_rate=1e-3, seed=0, verbose=0):
    """Trains ``encoder`` so a caption's embedding matches its image's, then freezes it.

    For captions that come without labels (a captions file): a small CNN
    embeds the images, and the symmetric contrastive loss of CLIP (Radford
    et al. 2021; Reed et al. 2016 train a similar joint embedding) pulls
    each caption toward its own image and away from the batch's others.

    Args:
        encoder: from :func:`build_text_encoder`.
        captions: ``[n]`` strings; ``images``: ``[n, H, W, C]`` in [-1, 1].
        epochs, batch_size, learning_rate, seed, verbose: the optimisation.

    Returns:
        The final contrastive loss.

    Example:
        >>> pretrain_on_images(encoder, captions, images, epochs=2)
    """
    tokens = _tokens(encoder, captions)
    images = np.asarray(images, "float32")
    if len(images) != len(tokens):
        raise DataError(f"images: expected {len(tokens)}, one per caption, got {len(images)}.")
    keras.utils.set_random_seed(seed)
    dim = int(encoder.output_shape[-1])
    image_encoder = keras.Sequential([
        keras.Input(images.shape[1:]),
        layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(), layers.Dense(dim)], name="image_encoder")
    encoder.trainable = True
    model = _Contrastive(encoder, image_encoder)
    model.compile(keras.optimizers.Adam(learning_rate))
    data = tf.data.Dataset.from_tensor_slices((tokens, images)).shuffle(
        len(tokens), seed=seed).batch(batch_size, drop_remainder=len(tokens) >= batch_size)
    hist = model.fit(data, epochs=epochs, verbose=verbose)
    encoder.trainable = False
    return float(hist.history["loss"][-1])
