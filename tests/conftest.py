"""Shared test set-up."""

import os

import torch

# Small networks run far faster on one thread than on two contended ones: in this process, and
# in every job process, Celery worker and rank the tests start (the suite runs two processes at
# once on two cores; a job given both cores beside them ran 7x slower).
torch.set_num_threads(int(os.environ.get("SFD_TEST_THREADS", "1")))
os.environ.setdefault("SFD_JOB_THREADS", "1")
