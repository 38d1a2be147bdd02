"""Issue 13: artifact downloads answer HEAD and byte ranges (206 with Content-Range, 416 for a
range outside the file), from a local folder and (through the presigned URL) from S3."""

from __future__ import annotations

from pathlib import Path

import httpx

from .support import Service, assert_problem, finished_job


def test_head_and_ranges(service: Service, teacher_tar: Path) -> None:
    job_id = finished_job(service, teacher_tar)["job"]["id"]
    path = f"/v1/jobs/{job_id}/artifacts/report.json"
    with service.client() as client:
        whole = client.get(path, follow_redirects=True)
        assert whole.status_code == 200
        body, size = whole.content, len(whole.content)
        downloads = _downloads(client, job_id)

        head = client.head(path)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(size)
        assert head.headers["accept-ranges"] == "bytes"
        listed = client.get(f"/v1/jobs/{job_id}/artifacts").json()["data"]
        sha256 = next(a["sha256"] for a in listed if a["name"] == "report.json")
        assert head.headers["etag"] == f'"{sha256}"'
        assert _downloads(client, job_id) == downloads  # HEAD grants no bytes: not audited

        for asked, expected in (
            ("bytes=0-9", (0, 9)),
            ("bytes=10-", (10, size - 1)),
            ("bytes=-5", (size - 5, size - 1)),
            (f"bytes=3-{size + 100}", (3, size - 1)),
        ):
            part = client.get(path, headers={"Range": asked}, follow_redirects=True)
            assert part.status_code == 206, (asked, part.text)
            first, last = expected
            assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
            assert part.content == body[first : last + 1]
        assert _downloads(client, job_id) == downloads + 4

        for outside in (f"bytes={size}-", "bytes=-0"):
            refused = client.get(path, headers={"Range": outside})
            assert_problem(refused, 416, "range_not_satisfiable")
            assert refused.headers["content-range"] == f"bytes */{size}"
        several = client.get(path, headers={"Range": "bytes=0-1,4-5"}, follow_redirects=True)
        assert several.status_code == 200 and several.content == body  # ignored: all of it


def _downloads(client: httpx.Client, job_id: str) -> int:
    events = client.get(
        "/v1/audit/events", params={"action": "artifact.downloaded", "limit": 100}
    ).json()["data"]
    return sum(e["data"]["job_id"] == job_id for e in events)
