"""Every family runs the shared battery (tests/gan_test_case.py): a few lines each."""

import keras
import tensorflow as tf

import kgan

from gan_test_case import FamilyTestCase, TranslationTestCase

MLP = {"hidden_units": (16,), "normalization": "none"}
CONV = {"base_filters": 4}
SYNC = {"generator_options": {**CONV, "sync_batch_norm": True},
        "discriminator_options": {**CONV, "sync_batch_norm": True}}


class TestVanillaGAN(FamilyTestCase):
    family = kgan.VanillaGAN
    kwargs = {"data_shape": (2,), "latent_dim": 4, "generator_options": MLP,
              "discriminator_options": {"hidden_units": (16,)}}


class TestDCGAN(FamilyTestCase):
    # conv + batch norm; under 2 replicas both networks synchronise their statistics
    family = kgan.DCGAN
    kwargs = {"data_shape": (28, 28, 1), "latent_dim": 8, "generator_options": CONV,
              "discriminator_options": CONV}
    replica_kwargs = SYNC
    rtol = 1e-4


class TestLSGAN(FamilyTestCase):
    family = kgan.LSGAN
    kwargs = {"data_shape": (2,), "latent_dim": 4, "generator_options": MLP,
              "discriminator_options": {"hidden_units": (16,)}}


class TestConditionalGAN(FamilyTestCase):
    family = kgan.ConditionalGAN
    kwargs = {"data_shape": (2,), "latent_dim": 4, "num_classes": 3, "generator_options": MLP,
              "discriminator_options": {"hidden_units": (16,)}}


class TestConditionalDCGAN(FamilyTestCase):
    family = kgan.DCGAN
    kwargs = {"data_shape": (28, 28, 1), "latent_dim": 8, "num_classes": 3,
              "loss": "least_squares", "generator_options": CONV, "discriminator_options": CONV}
    replica_kwargs = SYNC
    # Synchronised batch statistics sum in another order (as TestDCGAN): one weight of
    # 2,352 was 1.4e-5 off after 4 Adam steps on an AVX2 CPU (Eigen kernels), over 1e-5.
    rtol = 5e-4


class TestWGANGP(FamilyTestCase):
    family = kgan.WGANGP
    kwargs = {"data_shape": (2,), "latent_dim": 4, "d_steps": 2, "generator_options": MLP,
              "discriminator_options": {"hidden_units": (16,)}}
    rtol = 1e-4


class TestACGAN(FamilyTestCase):
    family = kgan.ACGAN
    kwargs = {"data_shape": (2,), "latent_dim": 4, "num_classes": 3, "generator_options": MLP,
              "discriminator_options": {"hidden_units": (16,)}}


class TestSharedFakes(FamilyTestCase):
    family = kgan.GAN
    kwargs = {"data_shape": (2,), "latent_dim": 4, "architecture": "mlp", "step": "shared_fakes",
              "generator_options": MLP, "discriminator_options": {"hidden_units": (16,)}}


# Image-to-image families: instance norm is per image, so 2 replicas equal one device.
UNET = {"base_filters": 4, "normalization": "instance"}
PATCH = {"base_filters": 4, "num_layers": 2, "normalization": "instance"}


class TestPix2Pix(TranslationTestCase):
    family = kgan.Pix2Pix
    kwargs = {"source_shape": (16, 16, 1), "generator_options": UNET,
              "discriminator_options": PATCH}
    rtol = 1e-4
    # the un-normalised 1x1 bottleneck carries float32 reduction-order noise that Adam(1e-2)
    # amplifies past rtol in one weight of 8192 (4e-5 absolute); at 1e-3 the runs agree
    learning_rate = 1e-3


class TestPix2PixInpainting(TranslationTestCase):
    family = kgan.Pix2Pix
    kwargs = {"source_shape": (16, 16, 2), "target_shape": (16, 16, 1), "inpainting": True,
              "generator_options": {**UNET, "normalization": "batch"},
              "discriminator_options": {**PATCH, "normalization": "batch"}}
    replica_kwargs = {"generator_options": {**UNET, "normalization": "sync_batch"},
                      "discriminator_options": {**PATCH, "normalization": "sync_batch"}}
    rtol = 5e-4  # synchronised batch statistics sum in another order


def _tiny_features():
    # an untrained stand-in for the trained offline feature network (tests need only the graph)
    keras.utils.set_random_seed(11)
    net = kgan.image_networks.build_feature_network((16, 16, 1), filters=(4,))
    return kgan.families.srgan.feature_extractor_from(net)


class TestSRGAN(TranslationTestCase):
    family = kgan.SRGAN
    kwargs = {"source_shape": (4, 4, 1), "scale": 4, "target_shape": (16, 16, 1),
              "generator_options": {"filters": 4, "num_blocks": 1, "normalization": "instance"},
              "discriminator_options": {"base_filters": 4, "num_blocks": 2, "dense_units": 8,
                                        "normalization": "instance"}}
    rtol = 1e-4

    def make(self, strategy=None, **extra):
        strategy = strategy or tf.distribute.get_strategy()
        with strategy.scope():
            extra.setdefault("feature_extractor", _tiny_features())
        return super().make(strategy, **extra)


class TestSRResNet(TranslationTestCase):
    family = kgan.SRGAN
    kwargs = {"source_shape": (4, 4, 1), "scale": 4, "target_shape": (16, 16, 1), "adversarial_weight": 0.0,
              "generator_options": {"filters": 4, "num_blocks": 1, "normalization": "instance"},
              "discriminator_options": {"base_filters": 4, "num_blocks": 2, "dense_units": 8}}
    rtol = 1e-4


class TestCycleGAN(TranslationTestCase):
    family = kgan.CycleGAN
    kwargs = {"source_shape": (16, 16, 1), "pool_size": 6,
              "generator_options": {"base_filters": 4, "num_blocks": 1},
              "discriminator_options": {"base_filters": 4, "num_layers": 2}}
    directions = ("a_to_b", "b_to_a")
    rtol = 1e-4
    # instance norm over 4x4 maps amplifies float32 reduction-order noise at Adam(1e-2);
    # without normalisation the two runs agree at 1e-2 too
    learning_rate = 1e-3


class TestCycleGANUNet(TranslationTestCase):
    # U-Net generators: their dropout masks follow the distribution rule too
    family = kgan.CycleGAN
    kwargs = {"source_shape": (16, 16, 1), "generator": "unet", "pool_size": 4,
              "generator_options": {"base_filters": 4},
              "discriminator_options": {"base_filters": 4, "num_layers": 2}}
    directions = ("a_to_b", "b_to_a")
    rtol = 1e-4
    # instance norm over 4x4 maps amplifies float32 reduction-order noise at Adam(1e-2);
    # without normalisation the two runs agree at 1e-2 too
    learning_rate = 1e-3


class TestCycleGANSemantic(TestCycleGAN):
    # CyCADA's semantic term: a frozen classifier rides along in save, resume and replicas
    def make(self, strategy=None, **extra):
        with (strategy or tf.distribute.get_strategy()).scope():
            x = keras.Input((16, 16, 1))
            logits = keras.layers.Dense(3, kernel_initializer=keras.initializers.RandomNormal(
                seed=4))(keras.layers.Flatten()(x))
            f = keras.Model(x, logits)
        return super().make(strategy, semantic_classifier=f, **extra)


class TestInfoGAN(FamilyTestCase):
    # codes drawn for the global batch and sliced: 2 replicas equal one device
    family = kgan.InfoGAN
    kwargs = {"data_shape": (2,), "noise_dim": 4, "categorical": (3,), "continuous": 1,
              "architecture": "mlp", "generator_options": MLP,
              "discriminator_options": {"hidden_units": (16,)}}


class TestInfoGANDCGAN(FamilyTestCase):
    family = kgan.InfoGAN
    # The paper's layers at test scale: FC 16 in G and D, Q's own FC 8.
    G_OPTS = {**CONV, "dense_units": 16}
    D_OPTS = {**CONV, "dense_units": 16, "aux_hidden_units": 8}
    kwargs = {"data_shape": (28, 28, 1), "noise_dim": 4, "categorical": (3, 2), "continuous": 2,
              "generator_options": G_OPTS, "discriminator_options": D_OPTS}
    replica_kwargs = {"generator_options": {**G_OPTS, "sync_batch_norm": True},
                      "discriminator_options": {**D_OPTS, "sync_batch_norm": True}}
    rtol = 1e-4

    def optimizers(self):
        # After one step every weight of the two runs agrees to 4e-7 except a
        # corner tap of G's last transposed convolution, whose gradient is
        # numerically zero (~1e-9): Adam's first step divides it by its own
        # size (plus epsilon 1e-7), turning float32 summation-order noise
        # into 1e-4 moves. A larger epsilon keeps that noise at noise level.
        return {"g_optimizer": keras.optimizers.Adam(1e-2, epsilon=1e-4),
                "d_optimizer": keras.optimizers.Adam(1e-2, epsilon=1e-4)}


class TestBEGAN(FamilyTestCase):
    # k_0 = 0.3 and a large gain make k_t move every step, so resume and
    # replica checks see it (a k_t not restored or not global would diverge)
    family = kgan.BEGAN
    kwargs = {"data_shape": (2,), "latent_dim": 4, "hidden_units": (16,), "embedding": 4,
              "k_initial": 0.3, "lambda_k": 0.1}


class TestBEGANConv(FamilyTestCase):
    family = kgan.BEGAN
    kwargs = {"data_shape": (28, 28, 1), "latent_dim": 8, "filters": 4, "embedding": 8,
              "k_initial": 0.3, "lambda_k": 0.1}
    rtol = 1e-4
