"""The GAN families, one short file each: defaults over ``kgan.core.gan.GAN``.

| family | file | what it sets |
|---|---|---|
| ``VanillaGAN`` | vanilla.py | MLP networks (Goodfellow et al. 2014) |
| ``DCGAN`` | dcgan.py | convolutional networks (Radford et al. 2016) |
| ``LSGAN`` | lsgan.py | least-squares loss (Mao et al. 2017) |
| ``ConditionalGAN`` | conditional.py | labels for both networks (Mirza & Osindero 2014) |
| ``WGANGP`` | wgan_gp.py | Wasserstein loss, gradient penalty, 5 critic steps (Gulrajani et al. 2017) |
| ``ACGAN`` | acgan.py | auxiliary-classifier D (Odena et al. 2017) |
| ``InfoGAN`` | infogan.py | latent codes, Q head on D, mutual-information term (Chen et al. 2016) |
| ``BEGAN`` | began.py | autoencoder D, L1 game, equilibrium k_t, M_global (Berthelot et al. 2017) |
| ``TextToImageGAN`` | text2image.py | sentence embeddings for both networks, GAN-CLS + GAN-INT (Reed et al. 2016) |

Image-to-image families (over ``kgan.core.translation.Translation``):

| family | file | what it is |
|---|---|---|
| ``Pix2Pix`` | pix2pix.py | U-Net G, PatchGAN D, adversarial + 100 L1 (Isola et al. 2017); inpainting (Pathak et al. 2016) |
| ``SRGAN`` | srgan.py | residual G with sub-pixel upsampling, content + 1e-3 adversarial (Ledig et al. 2017); SRResNet at weight 0 |
| ``CycleGAN`` | cyclegan.py | two G, two D, least squares, cycle 10 + identity (Zhu et al. 2017) |
"""

from kgan.families.acgan import ACGAN
from kgan.families.began import BEGAN
from kgan.families.conditional import ConditionalGAN
from kgan.families.cyclegan import CycleGAN
from kgan.families.dcgan import DCGAN
from kgan.families.infogan import InfoGAN
from kgan.families.lsgan import LSGAN
from kgan.families.pix2pix import Pix2Pix
from kgan.families.srgan import SRGAN
from kgan.families.text2image import TextToImageGAN
from kgan.families.vanilla import VanillaGAN
from kgan.families.wgan_gp import WGANGP

__all__ = ["VanillaGAN", "DCGAN", "LSGAN", "ConditionalGAN", "WGANGP", "ACGAN", "InfoGAN", "BEGAN",
           "Pix2Pix", "SRGAN", "CycleGAN", "TextToImageGAN"]
