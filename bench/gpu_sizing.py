"""Size one SFD iteration on an SD-1.5-sized UNet (random weights): step time and peak memory.

    python bench/gpu_sizing.py --device cuda --out gpu_sizing.json    # on the accelerator
    .venv/bin/python bench/gpu_sizing.py --tiny                       # a CPU check, reduced size

One iteration is what :class:`~sfd_core.trainer.SFDTrainer` runs: a fake-score step and a
generator step with the teacher, the fake score and the generator (plus the generator's EMA), with
the authors' text-to-image settings (CFG 4.5 on the teacher and fake score, 10% prompt dropout,
alpha 1.0). Prompt embeddings are random (8 prompts x 77 tokens x 768). For each batch size and
precision (fp32; bf16 autocast, CUDA only) it prints a JSON line; FLOPs of one UNet forward are
counted on the meta device, so they need no compute.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch
from diffusers import DDPMScheduler, UNet2DConditionModel
from torch.utils.flop_counter import FlopCounterMode

from sfd_core.conditions import ForgetPlan
from sfd_core.config import SFDConfig
from sfd_core.denoisers import preconditioning_from_scheduler
from sfd_core.text.adapter import PromptDenoiser
from sfd_core.trainer import SFDTrainer

AUTHORS_ITERATIONS = 12_500
SD15 = {"sample_size": 64, "cross_attention_dim": 768, "tokens": 77}
TINY = {  # same block structure, a small fraction of the width, 16x16 latents
    "sample_size": 16,
    "cross_attention_dim": 64,
    "tokens": 16,
    "block_out_channels": (32, 64, 64, 64),
    "norm_num_groups": 16,
}
PROMPTS = 8


def build_unet(size: dict[str, Any]) -> UNet2DConditionModel:
    """SD 1.5's UNet2DConditionModel config (diffusers' defaults plus 768-d cross-attention)."""
    extra = {k: size[k] for k in ("block_out_channels", "norm_num_groups") if k in size}
    return UNet2DConditionModel(
        sample_size=size["sample_size"], cross_attention_dim=size["cross_attention_dim"], **extra
    )


def sd_scheduler() -> DDPMScheduler:
    return DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")


def forward_flops(size: dict[str, Any]) -> int:
    """FLOPs of one UNet forward at batch 1, counted on the meta device."""
    with torch.device("meta"):
        unet = build_unet(size)
        x = torch.empty(1, 4, size["sample_size"], size["sample_size"])
        embeds = torch.empty(1, size["tokens"], size["cross_attention_dim"])
        with FlopCounterMode(display=False) as counter:
            unet(x, torch.ones(1), embeds)
    return counter.get_total_flops()


def unet_evaluations_per_step(batch: int, guided: bool) -> int:
    """UNet forward-equivalents of one SFD iteration (a backward counts as two forwards, one
    for a frozen network that only passes gradients to its input)."""
    g = 2 if guided else 1
    fake_step = 2 * batch + 2 * batch * g * 3  # generator samples, fake score fwd + bwd
    generator_step = 2 * batch * 3 + 2 * (2 * batch * g * 2)  # generator, teacher and fake score
    return fake_step + generator_step


def measure(
    unet: UNet2DConditionModel, size: dict[str, Any], batch: int, bf16: bool, args
) -> dict[str, Any]:
    device = torch.device(args.device)
    embeds = torch.randn(PROMPTS + 1, size["tokens"], size["cross_attention_dim"])
    uncond = torch.full((PROMPTS + 1,), PROMPTS)
    teacher = PromptDenoiser(
        unet,
        preconditioning_from_scheduler(sd_scheduler()),
        embeds,
        uncond,
        guidance_scale=4.5,
        gradient_checkpointing=args.gradient_checkpointing,
    ).to(device)
    plan = ForgetPlan(
        retain_ids=torch.arange(1, PROMPTS - 1),
        forget_ids=torch.tensor([0]),
        surrogate_ids=[torch.tensor([PROMPTS - 1])],
        null_id=PROMPTS,
    )
    config = SFDConfig(
        steps=args.warmup + args.steps,
        batch_size=batch,
        alpha=1.0,
        guidance_scale=4.5,
        cond_dropout=0.1,
        lr_generator=1e-6,
        lr_fake_score=3e-6,
        adam_eps=1e-6,
        bf16=bf16,
        gradient_checkpointing=args.gradient_checkpointing,
    )
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    trainer = SFDTrainer(
        teacher, plan, config, (4, size["sample_size"], size["sample_size"]), device=device
    )
    for _ in range(args.warmup):
        trainer.train_step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    for _ in range(args.steps):
        losses = trainer.train_step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - started) / args.steps
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    del trainer
    return {
        "seconds_per_step": round(seconds, 4),
        "peak_memory_gib": round(peak, 2) if peak is not None else None,
        "hours_for_12500_steps": round(seconds * AUTHORS_ITERATIONS / 3600, 2),
        "finite_losses": all(v == v for v in losses.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="reduced size, for a CPU check")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="also write every line to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = TINY if args.tiny else SD15

    torch.manual_seed(0)
    unet = build_unet(size)
    params = sum(p.numel() for p in unet.parameters())
    flops = forward_flops(size)
    header = {
        "size": "tiny" if args.tiny else "sd15",
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "unet_parameters": params,
        "latent": [4, size["sample_size"], size["sample_size"]],
        "unet_forward_tflops_batch1": round(flops / 1e12, 4),
        "torch": torch.__version__,
    }
    lines = [header]
    print(json.dumps(header), flush=True)
    for precision in args.precisions:
        bf16 = precision == "bf16"
        if bf16 and not args.device.startswith("cuda"):
            print(json.dumps({"precision": precision, "skipped": "bf16 autocast is CUDA-only"}))
            continue
        for batch in args.batches:
            line: dict[str, Any] = {"precision": precision, "batch": batch}
            line["step_tflops"] = round(unet_evaluations_per_step(batch, True) * flops / 1e12, 2)
            try:
                line |= measure(unet, size, batch, bf16, args)
            except torch.OutOfMemoryError:
                line["oom"] = True
                torch.cuda.empty_cache()
            lines.append(line)
            print(json.dumps(line), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(lines, f, indent=2)


if __name__ == "__main__":
    main()
