"""The genome of an update rule, with exactly the write-up's fields (section 2.1).

    update = scheduled_lr * sum_k alpha_k * T_k(g, m, v),   w <- w - update - lr_t * wd * w

Term types by index, as the write-up numbers them (its evolved genome's [4, 4, 3, 3] is
[SIGN_GRAD, SIGN_GRAD, ADAM_TERM, ADAM_TERM]). Learning rate, eps and weight decay are
stored as log10, as there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from neuroevo.config.limits import GENOME_FILE_MAX_BYTES, read_regular_file
from neuroevo.files.atomic import write_atomic

TERM_TYPES = ("GRAD", "MOMENTUM", "RMS_NORM", "ADAM_TERM", "SIGN_GRAD", "SQRT_GRAD", "NESTEROV")


# Allowed range of the log10 genes: wider than the GA's operators explore, narrow enough that
# 10^value is a usable positive float (10^400 overflows, 10^-400 is 0).
LOG10_RANGES = {"lr_log10": (-12.0, 2.0), "eps_log10": (-30.0, 0.0), "wd_log10": (-12.0, 2.0)}


class GenomeError(ValueError):
    """A genome that cannot be run; the message names the field (and the file, when read from one)."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class Genome:
    term_types: list[int] = field(default_factory=lambda: [3])
    alphas: list[float] = field(default_factory=lambda: [1.0])
    lr_log10: float = -3.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps_log10: float = -8.0
    wd_log10: float | None = None  # None: no weight decay (a log cannot say 0)
    use_m: bool = True  # False: the first moment is the current gradient (no averaging)
    use_v: bool = True  # False: the second moment is the current squared gradient
    use_bias_correction: bool = True
    use_gradient_clipping: bool = False
    clip_value: float = 1.0  # max global gradient norm when clipping
    use_warmup: bool = False
    warmup_steps: int = 100
    use_cosine_decay: bool = False

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        # Types first: a genome file with "0.9" or [1] where a number belongs must be refused by
        # field, not fail later inside a comparison ("must be real number, not str").
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name in ("term_types", "alphas"):
                if not isinstance(value, list):
                    raise GenomeError(f"{item.name}: must be a list, got {value!r}")
            elif item.name.startswith("use_"):
                if not isinstance(value, bool):
                    raise GenomeError(f"{item.name}: must be true or false, got {value!r}")
            elif item.name == "warmup_steps":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise GenomeError(f"warmup_steps: must be a whole number, got {value!r}")
            elif not (value is None and item.name == "wd_log10") and not _is_number(value):
                raise GenomeError(
                    f"{item.name}: must be a number{' or null' if item.name == 'wd_log10' else ''}, got {value!r}"
                )
        if not self.term_types:
            raise GenomeError("term_types: a genome needs at least one term")
        for index, term in enumerate(self.term_types):
            if isinstance(term, bool) or not isinstance(term, int) or not 0 <= term < len(TERM_TYPES):
                known = ", ".join(f"{number} = {name}" for number, name in enumerate(TERM_TYPES))
                raise GenomeError(f"term_types[{index}]: unknown term type {term!r}; known: {known}")
        if len(self.alphas) != len(self.term_types):
            raise GenomeError(
                f"alphas: {len(self.alphas)} values for {len(self.term_types)} term_types; they pair up one to one"
            )
        for index, alpha in enumerate(self.alphas):
            if not _is_number(alpha) or not math.isfinite(alpha):
                raise GenomeError(f"alphas[{index}]: must be a finite number, got {alpha!r}")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise GenomeError(f"{name}: must be in [0, 1), got {value}")
        for name in ("lr_log10", "eps_log10", "clip_value", *(["wd_log10"] if self.wd_log10 is not None else [])):
            if not math.isfinite(getattr(self, name)):
                raise GenomeError(f"{name}: must be a finite number, got {getattr(self, name)}")
        for name, (low, high) in LOG10_RANGES.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise GenomeError(f"{name}: must be in [{low}, {high}] (10^{low} to 10^{high}), got {value}")
        if self.clip_value <= 0:
            raise GenomeError(f"clip_value: must be positive, got {self.clip_value}")
        if self.warmup_steps < 0:
            raise GenomeError(f"warmup_steps: must be at least 0, got {self.warmup_steps}")

    @property
    def lr(self) -> float:
        return 10.0**self.lr_log10

    @property
    def eps(self) -> float:
        return 10.0**self.eps_log10

    @property
    def weight_decay(self) -> float:
        return 0.0 if self.wd_log10 is None else 10.0**self.wd_log10

    @property
    def terms(self) -> list[str]:
        return [TERM_TYPES[term] for term in self.term_types]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Genome:
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise GenomeError(
                f"unknown genome field(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
            )
        return cls(**values)

    def save(self, path: str | Path) -> None:
        # write_atomic: a job killed mid-write never leaves a torn genome file, and a link
        # planted at the partial's name is never written through (the partial's name is new).
        write_atomic(path, lambda partial: partial.write_text(json.dumps(self.to_dict(), indent=2) + "\n"))

    @classmethod
    def load(cls, path: str | Path) -> Genome:
        return cls.read(path)[0]

    @classmethod
    def read(cls, path: str | Path) -> tuple[Genome, str]:
        """The genome in a file and the sha256 of the bytes it was read from (the runs that
        use it record which content they ran). Every problem names the file."""
        path = Path(path)
        if not path.exists():
            raise GenomeError(
                f"no genome file {path}; give the path of a genome JSON (a discovery study's best_genome.json)"
            )
        try:
            # A regular file of at most GENOME_FILE_MAX_BYTES, checked before reading: /dev/zero would
            # fill the memory and a FIFO would wait for a writer forever.
            data = read_regular_file(path, "genome_file", GENOME_FILE_MAX_BYTES)
            values = json.loads(data.decode("utf-8"))
        except OSError as error:
            raise GenomeError(f"{path}: the genome file cannot be read ({error.strerror or error})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise GenomeError(
                f"{path}: not a complete genome JSON ({error}); rewrite it (Genome.save), or rerun the discovery study that wrote it"
            ) from None
        except ValueError as error:  # a special file, or too large (read_regular_file names it)
            raise GenomeError(str(error)) from None
        if not isinstance(values, dict):
            raise GenomeError(
                f"{path}: a genome file holds one JSON object of genome fields, got {type(values).__name__}"
            )
        try:
            return cls.from_dict(values), hashlib.sha256(data).hexdigest()
        except GenomeError as error:
            raise GenomeError(f"{path}: {error}") from None


# The write-up's evolved genome (its section 8, full precision).
PRIOR_GENOME = Genome(
    term_types=[4, 4, 3, 3],
    alphas=[0.41205802174892475, 0.32238621456272765, 2.0030004279455267, 1.6322011630060542],
    lr_log10=-2.9198932483267144,
    beta1=0.8553020861538518,
    beta2=0.9357561078635277,
    eps_log10=-8.26423960220415,
    wd_log10=-3.0112238437153316,
    use_m=True,
    use_v=True,
    use_bias_correction=False,
    use_gradient_clipping=False,
    use_warmup=True,
    warmup_steps=100,
    use_cosine_decay=True,
)
