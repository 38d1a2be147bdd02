"""The SFD loop: determinism, exact resume, NaN guards, losses, forget plans."""

import pytest
import torch

from sfd_core.conditions import ForgetSpec, ForgetSpecError, plan_for_classes
from sfd_core.config import ConfigError, SFDConfig
from sfd_core.losses import GeneratorLoss
from sfd_core.trainer import SFDTrainer
from sfd_core.warmup import PAIR_BATCH
from tests.tiny_models import tiny_edm_denoiser

CLASSES = ["0", "1", "2", "3"]


def make_trainer(steps=6, seed=0, **overrides) -> SFDTrainer:
    plan = plan_for_classes(ForgetSpec.create("0", "1"), CLASSES)
    config = SFDConfig(steps=steps, batch_size=4, **overrides)
    return SFDTrainer(tiny_edm_denoiser(), plan, config, (1, 8, 8), seed=seed)


def weights(trainer: SFDTrainer) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{k}": v.clone()
        for name, module in (
            ("g", trainer.generator),
            ("f", trainer.fake_score),
            ("e", trainer.ema),
        )
        for k, v in module.state_dict().items()
    }


def test_same_seed_same_run_and_training_changes_the_networks():
    a, b = make_trainer(), make_trainer()
    before = weights(a)
    a.run()
    b.run()
    wa, wb = weights(a), weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert any(not torch.equal(before[k], wa[k]) for k in wa if k.startswith("g."))
    # The teacher is frozen and untouched.
    assert all(not p.requires_grad for p in a.teacher.parameters())


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    straight = make_trainer(steps=6)
    straight.run()

    first = make_trainer(steps=6)
    stops = iter([False, False, False, True])
    assert first.run(should_stop=lambda: next(stops)) is False
    assert first.step == 3
    path = first.save_checkpoint(tmp_path / "ckpt.safetensors")

    resumed = make_trainer(steps=6, seed=123)  # the seed is restored from the checkpoint
    resumed.load_checkpoint(path)
    assert resumed.step == 3
    assert resumed.run() is True

    ws, wr = weights(straight), weights(resumed)
    assert all(torch.equal(ws[k], wr[k]) for k in ws)
    assert torch.equal(straight.rng.get_state(), resumed.rng.get_state())
    for a, b in (
        (straight.opt_generator, resumed.opt_generator),
        (straight.opt_fake, resumed.opt_fake),
    ):
        sa, sb = a.state_dict()["state"], b.state_dict()["state"]
        assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)


def test_checkpoint_from_another_config_is_refused(tmp_path):
    trainer = make_trainer()
    path = trainer.save_checkpoint(tmp_path / "ckpt.safetensors")
    other = make_trainer(alpha=1.0)
    with pytest.raises(ValueError, match="different configuration"):
        other.load_checkpoint(path)


def test_run_reports_progress_and_checkpoints(tmp_path):
    trainer = make_trainer(steps=4)
    events, saved = [], []
    trainer.run(
        on_progress=events.append,
        checkpoint_path=tmp_path / "c.safetensors",
        checkpoint_every=2,
        on_checkpoint=saved.append,
    )
    assert [e.step for e in events] == [1, 2, 3, 4]
    assert events[-1].eta_seconds == 0
    assert {"fake_retain", "gen_forget"} <= set(events[0].losses)
    assert len(saved) == 2 and saved[0].is_file()


def test_nan_samples_are_dropped_not_propagated():
    trainer = make_trainer(steps=3)
    teacher_forward = trainer.teacher.forward

    def poisoned(x, sigma, cond):
        out = teacher_forward(x, sigma, cond)
        out[0] = float("nan")  # one bad sample per call
        return out

    trainer.teacher.forward = poisoned
    trainer.run()
    assert all(torch.isfinite(p).all() for p in trainer.generator.parameters())


def test_generator_loss_is_zero_when_fake_score_equals_teacher_and_sign_matches_sid():
    teacher = tiny_edm_denoiser()
    loss_fn = GeneratorLoss(alpha=1.2)
    x = torch.randn(3, 1, 8, 8)
    cond = torch.tensor([0, 1, 2])
    sigma = torch.tensor([0.5, 1.0, 2.0])
    noise = torch.randn_like(x)
    loss, finite = loss_fn(teacher, teacher, x, cond, cond, sigma, noise)
    assert finite.all()
    torch.testing.assert_close(loss, torch.zeros(3))
    # With a different fake score, the loss follows (y_r - y_f)((y_r - x) - alpha (y_r - y_f)).
    fake = tiny_edm_denoiser(seed=1)
    loss, _ = loss_fn(teacher, fake, x, cond, cond, sigma, noise)
    noisy = x + sigma.reshape(-1, 1, 1, 1) * noise
    y_r, y_f = teacher(noisy, sigma, cond), fake(noisy, sigma, cond)
    omega = (y_r - x).abs().mean(dim=(1, 2, 3), keepdim=True)
    expected = ((y_r - y_f) * ((y_r - x) - 1.2 * (y_r - y_f)) / omega).sum(dim=(1, 2, 3))
    torch.testing.assert_close(loss, expected)


def test_forget_plans_fixed_random_and_several_concepts():
    plan = plan_for_classes(ForgetSpec.create(["0", "2"], "1"), CLASSES)
    assert plan.retain_ids.tolist() == [1, 3]
    gen = torch.Generator().manual_seed(0)
    unsafe, surrogate = plan.sample_forget(50, gen)
    assert set(unsafe.tolist()) == {0, 2} and set(surrogate.tolist()) == {1}

    plan = plan_for_classes(ForgetSpec.create("0", mode="random"), CLASSES)
    unsafe, surrogate = plan.sample_forget(300, gen)
    assert set(unsafe.tolist()) == {0} and set(surrogate.tolist()) == {1, 2, 3}

    plan = plan_for_classes(ForgetSpec.create(["0", "1"], ["2", "3"]), CLASSES)
    assert [s.tolist() for s in plan.surrogate_ids] == [[2], [3]]


@pytest.mark.parametrize(
    ("unsafe", "surrogate", "mode", "message"),
    [
        ("0", "0", "fixed", "is the unsafe concept"),
        ("0", None, "fixed", "needs a safe surrogate"),
        ("0", "1", "random", "takes no surrogate"),
        (["0", "1"], "1", "fixed", "itself to be forgotten"),
        ([], "1", "fixed", "at least one"),
        ("0", "1", "sometimes", "unknown surrogate mode"),
    ],
)
def test_bad_forget_specs_are_refused(unsafe, surrogate, mode, message):
    with pytest.raises(ForgetSpecError, match=message):
        ForgetSpec.create(unsafe, surrogate, mode)


def test_unknown_class_and_everything_forgotten_are_refused():
    with pytest.raises(ForgetSpecError, match="unknown class '7'"):
        plan_for_classes(ForgetSpec.create("7", "1"), CLASSES)
    with pytest.raises(ForgetSpecError, match="nothing would be retained"):
        plan_for_classes(ForgetSpec.create(CLASSES, mode="random"), CLASSES)


def test_config_overrides_are_checked():
    assert SFDConfig.from_overrides({"alpha": 1}, steps=5).alpha == 1.0
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        SFDConfig.from_overrides({"learning_rate": 1e-3})
    with pytest.raises(ConfigError, match="steps must be"):
        SFDConfig.from_overrides({}, steps=0)
    with pytest.raises(ConfigError, match="batch_size must be a whole number$"):
        SFDConfig.from_overrides({"batch_size": 3.5})
    with pytest.raises(ConfigError, match="must be true or false$"):
        SFDConfig.from_overrides({"harden": 1})


def test_warm_start_regresses_onto_the_teachers_pairs_and_forget_pairs_use_the_surrogate():
    trainer = make_trainer(steps=12, warmup_steps=8, warmup_pairs=16, warmup_lr=1e-3)
    pairs = trainer.pairs
    assert len(pairs) == 16
    forget = pairs.cond == 0
    assert forget.sum() == 8 and not (pairs.cond[~forget] == 0).any()
    # The forget half's targets are the teacher's samples for the surrogate from the same noise.
    from sfd_core.sampling import heun_sample

    surrogate = heun_sample(
        trainer.teacher,
        torch.ones(8, dtype=torch.long),
        (1, 8, 8),
        noise=pairs.noise[forget],
        clamp=False,
    )
    assert torch.allclose(pairs.target[forget], surrogate, atol=1e-5)

    everything = torch.arange(16)
    before = trainer.regression(trainer.generator, pairs, everything).mean().item()
    losses = [trainer.train_step() for _ in range(8)]
    assert all(set(step) == {"warmup_regression"} for step in losses)
    after = trainer.regression(trainer.generator, pairs, everything).mean().item()
    assert after < 0.8 * before
    assert "gen_retain" in trainer.train_step()  # then SFD takes over


def test_resume_inside_and_after_the_warm_start_equals_an_uninterrupted_run(tmp_path):
    overrides = {"warmup_steps": 3, "warmup_pairs": 8, "regression_weight": 0.5, "lr_final": 0.1}
    straight = make_trainer(steps=6, **overrides)
    straight.run()
    for stop_at in (2, 3, 4):  # in the warm-up, at its end, on the cosine
        first = make_trainer(steps=6, **overrides)
        flags = iter([False] * stop_at + [True])
        assert first.run(should_stop=lambda flags=flags: next(flags)) is False
        path = first.save_checkpoint(tmp_path / f"ckpt-{stop_at}.safetensors")
        resumed = make_trainer(steps=6, seed=99, **overrides)
        resumed.load_checkpoint(path)
        assert resumed.run() is True
        ws, wr = weights(straight), weights(resumed)
        assert all(torch.equal(ws[k], wr[k]) for k in ws), f"resumed at step {stop_at}"


def test_the_warm_start_has_its_own_rate_and_adams_momentum_and_sfd_neither():
    trainer = make_trainer(steps=3, warmup_steps=2, warmup_pairs=8, warmup_lr=2e-3)

    def generator_optimiser() -> tuple[float, float]:
        group = trainer.opt_generator.param_groups[0]
        return group["lr"], group["betas"][0]

    assert trainer.config.adam_beta1 == 0.0 and generator_optimiser() == (2e-3, 0.9)
    trainer.train_step()
    trainer.train_step()
    assert generator_optimiser() == (2e-3, 0.9)
    trainer.train_step()  # the first SFD step: fresh moments, SFD's rate, SiD's beta1
    assert generator_optimiser() == (trainer.config.lr_generator, 0.0)
    assert trainer.opt_fake.param_groups[0]["betas"][0] == 0.0
    no_warm_start = make_trainer(steps=2, warmup_lr=2e-3).opt_generator.param_groups[0]
    assert (no_warm_start["lr"], no_warm_start["betas"][0]) == (3e-4, 0.0)
    with pytest.raises(ConfigError, match="Adam betas"):
        SFDConfig(warmup_adam_beta1=1.0)
    with pytest.raises(ConfigError, match="learning rates"):
        SFDConfig(warmup_lr=0.0)


def test_the_forget_share_sets_how_many_warm_start_pairs_are_for_the_forget_condition():
    def forget_pairs(share: float) -> int:
        trainer = make_trainer(steps=12, warmup_steps=8, warmup_pairs=16, warmup_forget_share=share)
        return int((trainer.pairs.cond == 0).sum())

    assert [forget_pairs(share) for share in (0.0, 0.25, 0.5)] == [0, 4, 8]


def test_a_short_run_makes_no_more_pairs_than_it_can_draw():
    assert len(make_trainer(steps=2, warmup_pairs=1024).pairs) == 4 * 2  # batch 4, 2 steps
    assert len(make_trainer(steps=3, warmup_steps=1, warmup_pairs=1024).pairs) == 4 * (3 + 1)


def test_warm_start_settings_are_checked():
    with pytest.raises(ConfigError, match="warmup_steps"):
        SFDConfig(steps=10, warmup_steps=11)
    with pytest.raises(ConfigError, match="warmup_pairs"):
        SFDConfig(warmup_pairs=1)
    with pytest.raises(ConfigError, match="warmup_forget_share"):
        SFDConfig(warmup_forget_share=1.0)


def test_a_cancel_while_the_teacher_draws_the_warm_start_stops_between_its_batches():
    trainer = make_trainer(steps=200, warmup_pairs=3 * PAIR_BATCH)  # draws 800 >= 768
    events = []
    polls = iter([False, False, True])  # before the first step, then between the batches
    assert trainer.run(should_stop=lambda: next(polls), on_progress=events.append) is False
    assert trainer.step == 0 and trainer._pairs is None
    assert [(e.phase, e.message) for e in events] == [
        ("warmstart", f"the teacher has drawn {n} of {3 * PAIR_BATCH} warm-start samples")
        for n in (PAIR_BATCH, 2 * PAIR_BATCH)
    ]


def test_cosine_learning_rate_falls_from_the_first_sfd_step_to_lr_final():
    trainer = make_trainer(steps=5, warmup_steps=1, warmup_pairs=8, lr_final=0.1)
    seen = []
    for _ in range(5):
        trainer.train_step()
        seen.append(trainer.opt_generator.param_groups[0]["lr"])
    base = trainer.config.lr_generator
    # The warm-up step keeps the base rate; the SFD steps go from 1x to 0.1x.
    assert seen[0] == pytest.approx(base) and seen[1] == pytest.approx(base)
    assert seen[-1] == pytest.approx(0.1 * base)
    assert seen[1] > seen[2] > seen[3] > seen[4]
    assert trainer.opt_fake.param_groups[0]["lr"] == pytest.approx(
        0.1 * trainer.config.lr_fake_score
    )


def test_fake_score_steps_take_that_many_fake_score_steps_per_iteration():
    trainer = make_trainer(steps=3, fake_score_steps=2, regression_weight=0.0)
    trainer.run()
    counts = {int(state["step"]) for state in trainer.opt_fake.state.values()}
    generator_counts = {int(state["step"]) for state in trainer.opt_generator.state.values()}
    assert counts == {6} and generator_counts == {3}
    with pytest.raises(ConfigError, match="fake_score_steps"):
        SFDConfig(fake_score_steps=0)
