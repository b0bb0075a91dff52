"""The benchmarks' own arithmetic: FLOP counts, target checks and merged tables.

These figures end up in the README; a wrong FLOP count or a target check that
passes a failing seed would misreport every run, so they are checked against
hand-computed values here (no training).
"""

import importlib.util
import os
import sys

import keras
import numpy as np
import pytest
from keras import layers

BENCH = os.path.join(os.path.dirname(__file__), "..", "benchmarks")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", os.path.join(BENCH, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, BENCH)  # the scripts import their sibling common.py
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(BENCH)
    return module


@pytest.fixture(scope="module")
def throughput():
    return _load("throughput")


@pytest.fixture(scope="module")
def tricks():
    return _load("tricks")


def test_forward_flops_by_hand(throughput):
    x = keras.Input((8, 8, 3))
    y = layers.Conv2D(4, 3, strides=2, padding="same")(x)        # out 4x4: 2*16*9*3*4 = 3456
    y = layers.Conv2DTranspose(2, 5, strides=2, padding="same")(y)  # in 4x4: 2*16*25*4*2 = 6400
    y = layers.Flatten()(y)                                       # 8*8*2 = 128
    y = layers.Dense(10)(y)                                       # 2*128*10 = 2560
    assert throughput.forward_flops(keras.Model(x, y)) == 3456 + 6400 + 2560


def test_train_flops_algorithm1_by_hand(throughput):
    # D step: G fwd 1 + D fwd on real and fake 2 + D backward 4 = g + 6d;
    # G step: G fwd + D fwd + D backward to inputs + G backward = 3g + 2d.
    assert throughput.train_flops_per_image(10, 100) == 4 * 10 + 8 * 100


def test_tutorial_flops(throughput):
    g = throughput.forward_flops(throughput.tutorial_generator())
    d = throughput.forward_flops(throughput.tutorial_discriminator())
    # Dense 100 -> 12544, three transposed convs (7x7x256 -> 7x7x128 -> 14x14x64 -> 28x28x1).
    assert g == 2 * (100 * 12544 + 49 * 25 * 256 * 128 + 49 * 25 * 128 * 64 + 196 * 25 * 64 * 1)
    # Conv 1->64 at 14x14, 64->128 at 7x7, Dense 6272 -> 1.
    assert d == 2 * (196 * 25 * 64 + 49 * 25 * 64 * 128 + 6272)


def _record(dataset, modes, hq, kl, trick="r1", seed=0):
    return {"dataset": dataset, "modes": modes, "high_quality": hq, "reverse_kl": kl,
            "trick": trick, "seed": seed, "steps": 100, "seconds": 2.0, "base": "recipe"}


@pytest.mark.parametrize("record, met", [
    (_record("ring", 8, 0.97, 5.0), True),      # the ring has no KL target
    (_record("ring", 7, 0.99, 0.0), False),
    (_record("ring", 8, 0.969, 0.0), False),
    (_record("grid", 25, 0.97, 0.02), True),
    (_record("grid", 25, 0.98, 0.021), False),
    (_record("grid", 24, 0.99, 0.0), False),
])
def test_meets_target(tricks, record, met):
    assert tricks.meets_target(record) is met


def test_summary_means_worst_and_target_count(tricks):
    rows = [_record("grid", 25, 0.98, 0.01, seed=0), _record("grid", 23, 0.90, 0.05, seed=1),
            _record("ring", 8, 0.99, 0.1, trick="gan")]
    text = tricks.summarise(rows, "cmd")
    # grid r1: modes mean 24.0 (worst 23), HQ mean 94.0 (worst 90.0), KL mean 0.030 (worst 0.050), 1 of 2 met.
    assert "| recipe | r1 | 2 | 100 | 24.0 (23) | 94.00 (90.00) | 0.030 (0.050) | 1/2 | 2 |" in text
    assert "| recipe | gan | 1 | 100 | 8.0 (8) | 99.00 (99.00) | 0.100 (0.100) | 1/1 | 2 |" in text


def test_recipe_schedules_end_together(tricks):
    # Both learning rates decay to 0 at the end of the run, D's over its d_steps x more updates.
    tricks.TRICKS["_test_d2"] = ({"d_steps": 2}, "test only")
    try:
        model = tricks.build("_test_d2", 40, 0, tricks.BASES["recipe"])
    finally:
        del tricks.TRICKS["_test_d2"]

    def lr_at(opt, iteration):  # the optimizer evaluates its schedule at opt.iterations
        opt.iterations.assign(iteration)
        return float(opt.learning_rate)

    g, d = model.g_optimizer, model.d_optimizer
    assert lr_at(g, 0) == pytest.approx(1e-3) and lr_at(d, 0) == pytest.approx(1e-3)
    assert lr_at(g, 20) == pytest.approx(0.5e-3) and lr_at(d, 40) == pytest.approx(0.5e-3)
    assert lr_at(g, 40) == pytest.approx(0.0, abs=1e-9) and lr_at(d, 80) == pytest.approx(0.0, abs=1e-9)


def test_step_ceiling_counts_each_pass_of_algorithm1(throughput):
    # G: forward in D's step and G's step, one backward: 2 * 0.1 + 0.2 = 0.4 s.
    # D: forward on real, fake, fake; backward in D's step (2) and to the input
    # in G's step (0.5): 3 * 0.04 + 2.5 * 0.08 = 0.32 s. 256 / 0.72 s.
    assert throughput.step_ceiling(0.1, 0.2, 0.04, 0.08, 256) == pytest.approx(256 / 0.72)
    # With backward = 2x forward in time, the weights are train_flops_per_image's 4 and 8.
    g_f, d_f = 0.03, 0.01
    expected = 256 / (throughput.train_flops_per_image(g_f, d_f))
    assert throughput.step_ceiling(g_f, 2 * g_f, d_f, 2 * d_f, 256) == pytest.approx(expected)


def test_layer_flops_is_what_forward_flops_sums(throughput):
    g = throughput.tutorial_generator()
    per_layer = [throughput.layer_flops(layer) for layer in g.layers]
    assert sum(per_layer) == throughput.forward_flops(g)
    assert sum(f > 0 for f in per_layer) == 4  # the Dense and three transposed convs


def test_train_flops_shared_fakes_by_hand(throughput):
    # The tutorial's step: G fwd 1 + D fwd on real and fake 2 + D backward 4
    # (D's loss) + D backward to the fakes 1 (G's loss) + G backward 2 = 3g + 7d.
    assert throughput.train_flops_per_image(10, 100, shared_fakes=True) == 3 * 10 + 7 * 100
    assert throughput.train_flops_per_image(10, 100) == 4 * 10 + 8 * 100


def test_kgan_networks_flops(throughput):
    g = throughput.forward_flops(throughput.kgan_generator())
    d = throughput.forward_flops(throughput.kgan_discriminator())
    # Dense 100 -> 7x7x128, 4x4 transposed convs 128 -> 64 at 7x7 and 64 -> 1 at 14x14.
    assert g == 2 * (100 * 6272 + 49 * 16 * 128 * 64 + 196 * 16 * 64 * 1)
    # 4x4 convs 1 -> 64 out 14x14, 64 -> 128 out 7x7, Dense 6272 -> 1.
    assert d == 2 * (196 * 16 * 64 + 49 * 16 * 64 * 128 + 6272)
    # The upsampling form changes how, not what, is computed.
    assert throughput.forward_flops(throughput.kgan_generator("subpixel")) == g
    assert throughput.forward_flops(throughput.tutorial_generator("subpixel")) == throughput.forward_flops(
        throughput.tutorial_generator())


def test_summarise_rows_ratios_flops_and_skips(throughput):
    paths = [("t", "plain tf.function loop", "", "alg1", None), ("t", "shared", "", "shared", None),
             ("t", "missing", "", "alg1", None), ("k", "plain tf.function loop", "", "alg1", None)]
    measured = {("t", "plain tf.function loop"): [100.0, 80.0, 90.0], ("t", "shared"): [150.0],
                ("t", "missing"): [], ("k", "plain tf.function loop"): [400.0]}
    notes = {("t", "missing"): "skipped: not there"}
    flops = {"t": {"alg1": 1e9, "shared": 8e8}, "k": {"alg1": 1e8, "shared": 1e8}}
    rows = throughput.summarise_rows(paths, measured, notes, flops, 200.0, {"t": 125.0, "k": 500.0})
    t_plain, t_shared, t_missing, k_plain = rows
    assert t_plain["images_per_s"] == 100.0 and t_plain["median_images_per_s"] == 90.0
    assert t_plain["gflops"] == pytest.approx(100.0) and t_plain["fraction_of_matmul"] == pytest.approx(0.5)
    assert t_plain["fraction_of_kernel_ceiling"] == pytest.approx(0.8)
    # Shared fakes: its own (smaller) FLOPs per image, no Algorithm 1 ceiling.
    assert t_shared["ratio_to_plain_loop"] == pytest.approx(1.5)
    assert t_shared["gflops"] == pytest.approx(120.0) and t_shared["fraction_of_kernel_ceiling"] is None
    assert t_missing["note"] == "skipped: not there" and "images_per_s" not in t_missing
    # Each network is compared with its own plain loop.
    assert k_plain["ratio_to_plain_loop"] == 1.0 and k_plain["gflops"] == pytest.approx(40.0)


def test_torch_row_is_skipped_without_an_interpreter(throughput):
    with pytest.raises(throughput.Skipped, match="torch-python"):
        throughput.torch_eager(None, "tutorial", 8, 1)
    with pytest.raises(throughput.Skipped):
        throughput.torch_eager(sys.executable + "-does-not-exist", "tutorial", 8, 1)


def test_upsampling_twin_has_the_same_weights_and_output(throughput):
    g = throughput.kgan_generator("transpose")
    layer = g.get_layer("up_0")
    twin = throughput._upsampling_twin(layer)
    assert throughput._form(layer) == "transpose" and throughput._form(twin) == "sub-pixel"
    x = keras.random.normal((2, 7, 7, 128), seed=1)
    assert float(keras.ops.max(keras.ops.abs(twin(x) - layer(x)))) < 1e-5
    assert throughput._upsampling_twin(g.get_layer("project")) is None


def test_hungarian_accuracy_by_hand():
    infogan = _load("infogan")
    # codes 0,1,2 map to digits 2,0,1; one of six is wrong
    acc, mapping = infogan.hungarian_accuracy([0, 0, 1, 1, 2, 2], [2, 2, 0, 0, 1, 0], k=3)
    assert acc == pytest.approx(5 / 6) and mapping == {0: 2, 1: 0, 2: 1}


def test_text2image_agreement_counts_ties_as_misses():
    t2i = _load("text2image")
    import numpy as np

    low = np.array([1.0, 2.0, 3.0, 4.0])[:, None]
    high = np.array([2.0, 2.0, 1.0, 5.0])[:, None]
    assert t2i.agreement(low, high, lambda x: x[:, 0]) == pytest.approx(0.5)


def test_text2image_set_keeps_each_recipe_entry_type():
    t2i = _load("text2image")
    recipe = {"steps": 3000, "augmentation_kl": 0.02, "lr_schedule": "constant"}
    got = t2i.recipe_overrides(["steps=10", "augmentation_kl=1", "lr_schedule=cosine"], recipe)
    assert got == {"steps": 10, "augmentation_kl": 1.0, "lr_schedule": "cosine"}
    assert isinstance(got["steps"], int) and isinstance(got["augmentation_kl"], float)
    with pytest.raises(SystemExit, match="KEY in \\['augmentation_kl', 'lr_schedule', 'steps'\\]"):
        t2i.recipe_overrides(["lr=1"], recipe)


def test_text2image_summary_judges_the_worst_seed():
    t2i = _load("text2image")
    row = {"variant": "gan_cls_int", "seed": 0, "digit_seen": 0.97, "digit_unseen": 0.93,
           "fcd": 2.0, "fcd_floor": 1.0, "fcd_ratio": 2.0}
    row.update({f"{a}_{p}": 0.95 for a in ("thickness", "slant", "size")
                for p in ("seen", "unseen")})
    worse = {**row, "seed": 1, "slant_unseen": 0.89, "fcd_ratio": 3.1}
    text = t2i.summarise([row, worse])
    assert "| gan_cls_int | 1 | 97.0 | 93.0 |" in text
    assert ("digit seen >= 95 %: met; digit unseen >= 90 %: met; every attribute >= 90 %: "
            "NOT met; FCD <= 3x floor: NOT met") in text
    assert "every attribute >= 90 %: met; FCD <= 3x floor: met" in t2i.summarise([row])


def test_translation_targets_pair_seeds_and_fail_one_bad_seed():
    tr = _load("translation")
    floors = {"fcd_heldout_vs_reference": 10.0}
    good = {
        "sr4/bicubic": [{"seed": 0, "fcd": 50.0}],
        "sr4/srresnet": [{"seed": 0, "fcd": 40.0}, {"seed": 1, "fcd": 20.0}],
        "sr4/srgan": [{"seed": 0, "fcd": 30.0, "label_acc": 0.98},
                      {"seed": 1, "fcd": 25.0, "label_acc": 0.975}],  # 25 > its seed's 20
        "edges/pix2pix": [{"seed": 0, "fcd": 30.0, "label_acc": 0.97}],  # 30 = 3x: met
        "inpaint/pix2pix": [{"seed": 0, "fcd": 30.5, "label_acc": 0.99}],
        "inpaint/l1_only": [{"seed": 0, "fcd": 31.0}],
        "mnist2digits/cyclegan": [{"seed": 0, "a2b_label_acc": 0.95, "b2a_label_acc": 0.899}],
    }
    got = {name: ok for name, ok, _ in tr.assess_targets(good, floors)}
    assert got["sr4/srgan label accuracy >= 97 %"] is True
    assert got["sr4/srgan FCD below bicubic and SRResNet"] is False
    assert got["edges/pix2pix FCD <= 3x floor (30.00)"] is True
    assert got["inpaint/pix2pix FCD <= 3x floor (30.00)"] is False
    assert got["inpaint/pix2pix FCD below inpaint/l1_only"] is True
    assert got["mnist2digits/cyclegan MNIST->digits label accuracy >= 90 %"] is True
    assert got["mnist2digits/cyclegan digits->MNIST label accuracy >= 90 %"] is False
    assert got["mnist2digits/cyclegan_semantic MNIST->digits label accuracy >= 90 %"] is None
    del good["mnist2digits/cyclegan"]
    good["mnist2digits/cyclegan_semantic"] = [{"seed": 0, "a2b_label_acc": 0.9,
                                               "b2a_label_acc": 0.93}]
    got = {name: ok for name, ok, _ in tr.assess_targets(good, floors)}
    assert got["mnist2digits/cyclegan MNIST->digits label accuracy >= 90 %"] is None
    assert got["mnist2digits/cyclegan_semantic MNIST->digits label accuracy >= 90 %"] is True
    assert got["mnist2digits/cyclegan_semantic digits->MNIST label accuracy >= 90 %"] is True


@pytest.mark.parametrize("shape", [(7, 7, 1), (28, 28, 1), (28, 28, 2)])
def test_source_ceiling_classifier_sees_7x7_maps(shape):
    # 28x28 sources are pooled to the 7x7 grid of the SR source, so the dense
    # layer has the same 7 * 7 * 128 inputs for every task.
    model = _load("source_ceiling").build_classifier(shape)
    dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)][0]
    assert tuple(dense.kernel.shape) == (7 * 7 * 128, 256)
    assert model(keras.ops.zeros((2,) + shape)).shape == (2, 10)


def test_timer_of_the_auto_row_starts_after_the_choice(throughput):
    # jit_compile="auto" spends its first steps timing both forms; the row must
    # time the chosen form only: `warmup` steps after the choice, then on.
    class Model:
        jit_choice = None

    timer = throughput._Timer(2, after_choice=True)
    timer.set_model(Model())
    for batch in range(5):  # the choosing phase: steps 1-5
        timer.on_train_batch_end(batch)
    assert timer.t0 is None
    Model.jit_choice = {"jit_compile": False}
    for batch in range(5, 12):
        timer.on_train_batch_end(batch)
        assert (timer.t0 is None) == (batch + 1 < 6 + 2)
    timer.on_train_end()
    assert (timer.start_step, timer.end_step) == (8, 12) and timer.t1 >= timer.t0
    plain = throughput._Timer(3)
    plain.set_model(Model())
    for batch in range(6):
        plain.on_train_batch_end(batch)
    assert (plain.start_step, plain.end_step) == (3, 6)


def test_latent_pca_baseline_and_errors_by_hand():
    latent_bench = _load("latent")
    rng = np.random.default_rng(0)
    # points on a 2-D plane in 5-D: two components reconstruct them exactly, one does not
    basis = rng.normal(size=(2, 5))
    fit = rng.normal(size=(200, 2)) @ basis + 0.3
    test = rng.normal(size=(7, 2)) @ basis + 0.3
    np.testing.assert_allclose(latent_bench.pca_reconstruct(fit, test, 2), test, atol=1e-5)
    assert np.abs(latent_bench.pca_reconstruct(fit, test, 1) - test).max() > 1e-2
    # [-1, 1] inputs: an error of 1.0 there is 0.5 on [0, 1] pixels
    mse, mae = latent_bench.errors(np.array([[1.0, -1.0]]), np.array([[0.0, -1.0]]))
    np.testing.assert_allclose(mse, [0.125])
    np.testing.assert_allclose(mae, [0.25])


def test_anomaly_per_seed_means_and_baseline_check():
    anomaly_bench = _load("anomaly")

    def run(seed, digit, fanogan, pca):
        auroc = {m: 0.5 for m in anomaly_bench.METHODS}
        auroc.update(fanogan=fanogan, pca=pca)
        return {"protocol": "one_class", "digit": digit, "seed": seed, "auroc": auroc,
                "seconds_per_image": {"anogan": 0.1, "fanogan": 0.001}}

    runs = [run(0, 0, 0.9, 0.8), run(0, 1, 0.7, 0.6), run(1, 0, 0.9, 0.95), run(1, 1, 0.7, 0.7)]
    means = anomaly_bench.per_seed_means(runs)
    assert means["fanogan"] == pytest.approx({0: 0.8, 1: 0.8})
    assert means["pca"] == pytest.approx({0: 0.7, 1: 0.825})
    text = anomaly_bench.summarize({"name": "t", "command": "c", "runs": runs,
                                    "environment": {"cpus": 2, "gpus": 0},
                                    "config": {"anogan_steps": 300}})
    # seed 1's PCA mean (82.5) beats f-AnoGAN's (80.0): the check must say so
    assert "every seed: no (seed 1: pca at or above)" in text
    assert "- fanogan: 80.0 / 80.0" in text


def test_anomaly_merge_concatenates_runs_and_refuses_mixed_configs(tmp_path):
    import json

    anomaly_bench = _load("anomaly")
    auroc = {m: 0.5 for m in anomaly_bench.METHODS}
    base = {"name": "x", "command": "c", "environment": {"cpus": 2, "gpus": 0},
            "config": {"anogan_steps": 300}, "total_seconds": 10}
    for seed in (0, 1):
        (tmp_path / f"s{seed}").mkdir()
        run = {"protocol": "one_anomalous", "digit": 3, "seed": seed, "auroc": auroc,
               "seconds_per_image": {"anogan": 0.1, "fanogan": 0.001}}
        (tmp_path / f"s{seed}" / "results.json").write_text(json.dumps(dict(base, runs=[run])))
    merged = anomaly_bench.merge([str(tmp_path / "s0"), str(tmp_path / "s1")],
                                 str(tmp_path / "m"), "m", ["--merge", "..."])
    assert [r["seed"] for r in merged["runs"]] == [0, 1] and merged["total_seconds"] == 20
    assert (tmp_path / "m" / "summary.md").exists()
    bad = dict(base, config={"anogan_steps": 500}, runs=[])
    (tmp_path / "s1" / "results.json").write_text(json.dumps(bad))
    with pytest.raises(SystemExit, match="different configs"):
        anomaly_bench.merge([str(tmp_path / "s0"), str(tmp_path / "s1")], str(tmp_path / "m2"),
                            "m2", [])
