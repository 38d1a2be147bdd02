"""Text-to-image forget-requests go through the same API, with prompts in ``options``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import Service, assert_problem, start_service


@pytest.fixture(scope="module")
def queue_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service that only queues (SFD_RUNNER=none): these tests check requests, not runs."""
    home = tmp_path_factory.mktemp("text-home")
    service = start_service(home, f"sqlite:///{home / 'sfd.db'}", runner="none")
    yield service
    service.server.stop()


def text_job(**changes: object) -> dict:
    body = {"model": "shapes", "unsafe_concept": "red", "safe_surrogate": "blue", "steps": 10}
    return body | changes


def test_text_job_with_prompts_is_queued_and_keeps_its_options(queue_only: Service) -> None:
    options = {
        "prompts": ["a red circle", "a red square", "a green triangle"],
        "retain_prompts": ["a green triangle", "a blue circle"],
        "negative_prompt": "blurry",
        "paraphrases": ["a crimson circle"],
    }
    with queue_only.client() as client:
        created = client.post("/v1/jobs", json=text_job(options=options))
        assert created.status_code == 201, created.text
        job = client.get(f"/v1/jobs/{created.json()['id']}").json()
    assert job["status"] == "queued"
    assert job["options"] == options
    assert job["unsafe_concept"] == ["red"] and job["safe_surrogate"] == ["blue"]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"options": {"prompts": ["a green square"]}}, "invalid_forget_spec"),
        ({"options": {"templates": ["no placeholder"]}}, "invalid_forget_spec"),
        ({"options": {"retain_prompts": ["a red circle"]}}, "invalid_forget_spec"),
        ({"options": {"prompts": []}}, "validation_error"),
        ({"options": {"paraphrases": []}}, "validation_error"),
        ({"options": {"colour": "red"}}, "validation_error"),
        ({"surrogate_mode": "random", "safe_surrogate": None}, "invalid_forget_spec"),
        (
            {
                "model": "digits",
                "unsafe_concept": "0",
                "safe_surrogate": "1",
                "options": {"prompts": ["a zero"]},
            },
            "invalid_forget_spec",
        ),
    ],
)
def test_bad_text_requests_are_refused_before_queueing(
    queue_only: Service, changes: dict, code: str
) -> None:
    body = {k: v for k, v in text_job(**changes).items() if v is not None}
    with queue_only.client() as client:
        before = client.get("/v1/jobs").json()["data"]
        assert_problem(client.post("/v1/jobs", json=body), 422, code)
        assert client.get("/v1/jobs").json()["data"] == before
