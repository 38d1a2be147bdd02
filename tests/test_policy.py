"""The forgetting policy: criteria, the verdict, layered overrides and refused fields."""

import pytest

from sfd_core.policy import FORGOTTEN, NOT_FORGOTTEN, ForgettingPolicy, PolicyError, judge_report


def _report(**overrides):
    report = {
        "forget_rate": 0.0,
        "retained_accuracy": 0.97,
        "retained_fd": 4.0,
        "teacher": {"retained_accuracy": 0.98, "retained_fd": 1.25},
        "robustness": {
            "attacks": [
                {"probe": "conditioning", "start": "mean", "asr": 0.04, "reference_asr": None},
                {"probe": "conditioning", "start": "null", "asr": 0.12, "reference_asr": 0.10},
            ],
            "relearning": {"steps_to_half": 30.0, "reference_steps_to_half": 40.0},
        },
    }
    report.update(overrides)
    return report


def test_a_report_meeting_every_criterion_is_forgotten():
    verdict = judge_report(_report(), ForgettingPolicy())
    assert verdict["verdict"] == FORGOTTEN and verdict["failed"] == []
    names = [c["name"] for c in verdict["criteria"]]
    assert names == [
        "forget_rate",
        "retained_accuracy",
        "retained_fd_ratio",
        "attack:conditioning:mean",
        "attack:conditioning:null",
        "relearning",
    ]
    # 0.12 passes only because the reference itself reaches 0.10 (+0.05 allowed)
    null = next(c for c in verdict["criteria"] if c["name"] == "attack:conditioning:null")
    assert null["limit"] == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("overrides", "failed"),
    [
        ({"forget_rate": 1.0}, "forget_rate"),
        ({"retained_accuracy": 0.90}, "retained_accuracy"),
        ({"retained_fd": 7.0}, "retained_fd_ratio"),
        ({"forget_rate": None}, "forget_rate"),  # not measured fails
    ],
)
def test_each_failed_criterion_is_named(overrides, failed):
    verdict = judge_report(_report(**overrides), ForgettingPolicy())
    assert verdict["verdict"] == NOT_FORGOTTEN and verdict["failed"] == [failed]


def test_attack_success_and_fast_relearning_fail():
    report = _report()
    report["robustness"]["attacks"][0]["asr"] = 0.9
    report["robustness"]["relearning"]["steps_to_half"] = 5.0
    verdict = judge_report(report, ForgettingPolicy())
    assert verdict["failed"] == ["attack:conditioning:mean", "relearning"]


def test_without_probes_the_policy_cannot_say_forgotten_unless_told_so():
    verdict = judge_report(_report(robustness=None), ForgettingPolicy())
    assert verdict["failed"] == ["attack_probes"]
    not_probed = {"attacks": [], "not_probed": "no attack kit knows this model"}
    verdict = judge_report(_report(robustness=not_probed), ForgettingPolicy())
    assert "no attack kit" in verdict["criteria"][-1]["detail"]
    lenient = ForgettingPolicy.from_overrides({"require_probes": False})
    assert judge_report(_report(robustness=None), lenient)["verdict"] == FORGOTTEN


def test_overrides_layer_in_order_and_bad_fields_are_refused():
    policy = ForgettingPolicy.from_overrides(
        {"max_fd_ratio": 3, "max_forget_rate": 0.1}, {"max_fd_ratio": 8}
    )
    assert policy.max_fd_ratio == 8.0 and policy.max_forget_rate == 0.1
    for bad, message in [
        ({"max_forget_rate": 2}, r"share in \[0, 1\]"),
        ({"max_fd_ratio": 0.5}, "max_fd_ratio"),
        ({"nope": 1}, "unknown policy field"),
        ({"require_probes": 1}, "true or false"),
        ({"max_attack_success": "0.1"}, "a number"),
        ({"max_attack_success": True}, "a number"),
        ({"max_accuracy_drop": float("nan")}, "max_accuracy_drop"),
    ]:
        with pytest.raises(PolicyError, match=message):
            ForgettingPolicy.from_overrides(bad)
