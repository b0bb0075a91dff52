"""Every family runs the shared battery (tests/gan_test_case.py): a few lines each."""

import keras

import kgan

from gan_test_case import FamilyTestCase

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
    rtol = 1e-4


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


class TestInfoGAN(FamilyTestCase):
    # codes drawn for the global batch and sliced: 2 replicas equal one device
    family = kgan.InfoGAN
    kwargs = {"data_shape": (2,), "noise_dim": 4, "categorical": (3,), "continuous": 1,
              "architecture": "mlp", "generator_options": MLP,
              "discriminator_options": {"hidden_units": (16,)}}


class TestInfoGANDCGAN(FamilyTestCase):
    family = kgan.InfoGAN
    kwargs = {"data_shape": (28, 28, 1), "noise_dim": 4, "categorical": (3, 2), "continuous": 2,
              "generator_options": CONV, "discriminator_options": CONV}
    replica_kwargs = SYNC
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
