"""Shared test set-up."""

import os

import torch

# Small networks run far faster on one thread than on two contended ones.
torch.set_num_threads(int(os.environ.get("SFD_TEST_THREADS", "1")))
