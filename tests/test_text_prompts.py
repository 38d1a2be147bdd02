"""Text forget-requests: concept rewriting and the prompt table behind a forget plan."""

import pytest

from sfd_core.conditions import ForgetSpec, ForgetSpecError
from sfd_core.text.prompts import GENERIC_RETAIN, build_prompt_table, mentions, rewrite
from sfd_core.text.shapes import CAPTIONS

SHAPES_PROMPTS = [c[0] for c in CAPTIONS]


def test_rewrite_is_case_insensitive_and_whole_word() -> None:
    prompt = "Brad Pitt at the beach, BRAD PITT smiling"
    assert rewrite(prompt, "brad pitt", "a middle aged man") == (
        "a middle aged man at the beach, a middle aged man smiling"
    )
    assert rewrite("a colored red ball", "red", "blue") == "a colored blue ball"
    assert not mentions("a bordered frame", "red")
    assert rewrite("nudity on a beach", "nudity", "") == "on a beach"


def test_user_prompts_give_forget_and_surrogate_prompts() -> None:
    spec = ForgetSpec.create("Brad Pitt", "a middle aged man")
    table = build_prompt_table(spec, prompts=["a photo of brad pitt", "a cat", "Brad Pitt smiling"])
    forget = [table.prompts[int(i)] for i in table.plan.forget_ids]
    assert forget == ["a photo of brad pitt", "Brad Pitt smiling"]
    assert table.surrogate_for == {
        "a photo of brad pitt": "a photo of a middle aged man",
        "Brad Pitt smiling": "a middle aged man smiling",
    }
    retain = [table.prompts[int(i)] for i in table.plan.retain_ids]
    assert retain == list(GENERIC_RETAIN)  # the user's other prompts are candidates, not retain
    assert table.prompts[table.plan.null_id] == ""
    assert table.uncond_ids == [table.plan.null_id] * len(table.prompts)


def test_templates_several_concepts_and_negative_prompt() -> None:
    spec = ForgetSpec.create(["Brad Pitt", "nudity"], ["a middle aged man", ""])
    table = build_prompt_table(
        spec, templates=["a photo of {}"], retain_prompts=["a dog"], negative_prompt="nsfw, nude"
    )
    assert table.surrogate_for == {
        "a photo of Brad Pitt": "a photo of a middle aged man",
        "a photo of nudity": "a photo of",
    }
    negative = table.prompts.index("nsfw, nude")
    for surrogate in table.plan.surrogate_ids:
        assert table.uncond_ids[int(surrogate[0])] == negative
    assert table.uncond_ids[table.prompts.index("a dog")] == table.plan.null_id
    assert table.concepts == ["Brad Pitt", "nudity"]


def test_model_prompts_split_into_forget_and_retain() -> None:
    table = build_prompt_table(ForgetSpec.create("red", "blue"), model_prompts=SHAPES_PROMPTS)
    forget = [table.prompts[int(i)] for i in table.plan.forget_ids]
    retain = [table.prompts[int(i)] for i in table.plan.retain_ids]
    assert forget == ["a red circle", "a red square", "a red triangle"]
    assert len(retain) == 9 and not any("red" in p for p in retain)
    # Surrogates are retained prompts too: one id each, not a copy.
    assert {int(s[0]) for s in table.plan.surrogate_ids} <= set(table.plan.retain_ids.tolist())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompts": ["a cat", "a dog"]}, "appears in none of the prompts"),
        ({"prompts": []}, "prompts is empty"),
        ({"prompts": ["a photo of Brad Pitt", ""]}, "empty prompt"),
        ({"retain_prompts": []}, "retain_prompts is empty"),
        ({"retain_prompts": ["brad pitt on stage"]}, "mentions a concept"),
        ({"templates": ["a photo"]}, "needs a '{}'"),
        ({"prompts": "a photo of Brad Pitt"}, "not one string"),
    ],
)
def test_bad_prompt_input_is_one_clear_error(kwargs: dict, message: str) -> None:
    spec = ForgetSpec.create("Brad Pitt", "a middle aged man")
    with pytest.raises(ForgetSpecError, match=message):
        build_prompt_table(spec, **kwargs)


def test_random_surrogates_are_refused_for_text() -> None:
    spec = ForgetSpec.create("red", mode="random")
    with pytest.raises(ForgetSpecError, match="fixed surrogate"):
        build_prompt_table(spec, model_prompts=SHAPES_PROMPTS)
