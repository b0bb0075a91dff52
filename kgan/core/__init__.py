"""The adversarial core: the base model, the distribution rule, the piece protocols.

``kgan.core.adversarial.AdversarialModel`` owns what every family shares
(optimizers, NaN guard, trackers, checks, saving hooks, the multi-worker
workaround); ``kgan.core.gan.GAN`` is the noise-to-sample game on top of it;
``kgan.core.pieces`` defines the protocols of the pluggable pieces and
``kgan.core.record`` what one step produced; ``kgan.core.replica`` is the
distribution rule.
"""
