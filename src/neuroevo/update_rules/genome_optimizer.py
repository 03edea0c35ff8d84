"""`GenomeOptimizer`: a torch.optim.Optimizer that runs the update rule of a Genome, usable
in any PyTorch training loop (the write-up's section 8):

    optimizer = GenomeOptimizer(model.parameters(), PRIOR_GENOME, total_steps=1000)
    loss.backward(); optimizer.step(); optimizer.zero_grad()

Per parameter: m and v are EMAs of g and g^2 (the current g and g^2 without use_m / use_v),
bias-corrected when asked; the terms are

    GRAD g | MOMENTUM m | RMS_NORM g / (sqrt(v) + eps) | ADAM_TERM m / (sqrt(v) + eps)
    SIGN_GRAD sign(g) | SQRT_GRAD g / (|g| + eps) | NESTEROV beta1 m + (1 - beta1) g

and w <- w (1 - lr_t wd) - lr_t sum_k alpha_k T_k, with lr_t the learning rate after linear
warmup and cosine decay to 0 at `total_steps`. Clipping scales a group's gradients to a
global norm of at most clip_value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from neuroevo.update_rules.genome import Genome


def lr_factor(step: int, total_steps: int, warmup_steps: int = 0, cosine: bool = True) -> float:
    """The learning rate's multiplier at `step` (1-based): linear warmup over `warmup_steps`,
    then, if asked, cosine decay to 0 at `total_steps` (the baselines' warmup_cosine schedule
    is this one too)."""
    if warmup_steps and step <= warmup_steps:
        return step / warmup_steps
    if cosine:
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.5 * (1 + math.cos(math.pi * progress))
    return 1.0


def scheduled_lr(genome: Genome, step: int, total_steps: int) -> float:
    """The learning rate at `step` (1-based): linear warmup, then cosine decay if asked."""
    warmup = genome.warmup_steps if genome.use_warmup else 0
    return genome.lr * lr_factor(step, total_steps, warmup, genome.use_cosine_decay)


def term(name: str, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, genome: Genome) -> torch.Tensor:
    if name == "GRAD":
        return grad
    if name == "MOMENTUM":
        return m
    if name == "RMS_NORM":
        return grad / (v.sqrt() + genome.eps)
    if name == "ADAM_TERM":
        return m / (v.sqrt() + genome.eps)
    if name == "SIGN_GRAD":
        return grad.sign()
    if name == "SQRT_GRAD":
        return grad / (grad.abs() + genome.eps)
    return genome.beta1 * m + (1 - genome.beta1) * grad  # NESTEROV


class GenomeOptimizer(torch.optim.Optimizer):
    def __init__(self, params: Iterable, genome: Genome, total_steps: int = 1000):
        if total_steps < 1:
            raise ValueError(f"total_steps must be at least 1, got {total_steps}")
        genome.check()
        # The genome lives in the defaults as a dict, so state_dict() carries it as data.
        super().__init__(params, {"genome": genome.to_dict(), "total_steps": total_steps})

    def _genome(self, group: dict) -> Genome:
        """The group's genome, parsed once: again only after load_state_dict gives the group
        a new genome dict (steps run in a hot loop)."""
        parsed = self.__dict__.setdefault("_parsed", {})  # kept off param_groups (and state_dict)
        cached = parsed.get(id(group))
        if cached is None or cached[0] is not group["genome"]:
            cached = parsed[id(group)] = (group["genome"], Genome.from_dict(group["genome"]))
        return cached[1]

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            genome = self._genome(group)
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            scale = 1.0
            if genome.use_gradient_clipping:
                norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
                scale = min(1.0, genome.clip_value / (float(norm) + 1e-6))
            for p in params:
                self._update(p, p.grad * scale if scale != 1.0 else p.grad, genome, group["total_steps"])
        return loss

    def _update(self, p: torch.Tensor, grad: torch.Tensor, genome: Genome, total_steps: int) -> None:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        step = state["step"]
        m, v = grad, grad * grad
        if genome.use_m:
            m = state["exp_avg"].lerp_(grad, 1 - genome.beta1)
        if genome.use_v:
            v = state["exp_avg_sq"].mul_(genome.beta2).addcmul_(grad, grad, value=1 - genome.beta2)
        if genome.use_bias_correction:
            if genome.use_m:
                m = m / (1 - genome.beta1**step)
            if genome.use_v:
                v = v / (1 - genome.beta2**step)
        update = sum(
            alpha * term(name, grad, m, v, genome) for name, alpha in zip(genome.terms, genome.alphas, strict=True)
        )
        lr = scheduled_lr(genome, step, total_steps)
        if genome.weight_decay:
            p.mul_(1 - lr * genome.weight_decay)  # decoupled, as AdamW
        p.add_(update, alpha=-lr)
