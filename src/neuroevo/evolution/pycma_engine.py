"""pycma (Hansen's reference CMA-ES) behind the ask/tell interface the optimizers use.

A pycma object cannot go into a checkpoint as data (its options are evaluated as Python
code), so a checkpoint stores the engine's settings and the fitness values it was told;
`replay` rebuilds the engines from those, exactly: pycma is deterministic given its seed
and the fitness values, and it draws from numpy's global generator, so the engines of one
run are replayed together, in the order the run made its calls.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from neuroevo.files.checkpoint import checkpointable

# Our early stopping and budget decide when training ends; pycma's termination criteria,
# tuned for noiseless functions, would fire on noisy minibatch fitness.
NO_TERMINATION = {
    "tolfun": 0,
    "tolfunhist": 0,
    "tolfunrel": 0,
    "tolx": 0,
    "tolstagnation": math.inf,
    "tolxstagnation": False,
    "tolflatfitness": math.inf,
    "tolconditioncov": math.inf,
    "tolfacupx": math.inf,
    "tolupsigma": math.inf,
    "maxiter": math.inf,
    "maxfevals": math.inf,
}


@checkpointable
class PycmaEngine:
    def __init__(self, x0: torch.Tensor, sigma0: float, popsize: int | None, diagonal: bool, seed: int):
        self.settings = {
            "x0": x0.detach().cpu().double(),
            "sigma0": float(sigma0),
            "popsize": popsize,
            "diagonal": bool(diagonal),
            "seed": int(seed),
        }
        self.diagonal = diagonal
        self.dtype, self.device = x0.dtype, x0.device
        self.told: list[np.ndarray] = []  # every generation's fitness, for `replay`
        self._start()

    def _start(self) -> None:
        import cma  # imports matplotlib and scipy.stats (~2 s): only jobs that use it pay

        settings = self.settings
        options = {
            # pycma draws a random seed for 0 and takes seeds below 2**32 only: folded into 1 .. 2**32 - 1
            # (seed + 1 for every seed below 2**32 - 1; layerwise CMA-ES's seed * 1000 + layer can be larger).
            "seed": settings["seed"] % (2**32 - 1) + 1,
            "CMA_diagonal": settings["diagonal"],
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            **NO_TERMINATION,
        }
        if settings["popsize"] is not None:
            options["popsize"] = settings["popsize"]
        self.es = cma.CMAEvolutionStrategy(settings["x0"].numpy(), settings["sigma0"], options)
        self._asked: list[np.ndarray] = []

    def __getstate__(self) -> dict:
        return {
            "settings": self.settings,
            "dtype": self.dtype,
            "device": self.device,
            "told": torch.from_numpy(np.stack(self.told)) if self.told else torch.zeros(0, dtype=torch.float64),
        }

    def __setstate__(self, state: dict) -> None:
        """Settings and history only: `replay` rebuilds the pycma object."""
        settings, told = state["settings"], state["told"]
        if not isinstance(told, torch.Tensor) or told.dim() not in (1, 2):
            raise ValueError("pycma engine: its fitness history is not a table")

        # pycma evaluates string options as code: only plain numbers may reach it.
        def is_int(value):
            return isinstance(value, int) and not isinstance(value, bool)

        valid = (
            isinstance(settings, dict)
            and set(settings) == {"x0", "sigma0", "popsize", "diagonal", "seed"}
            and isinstance(settings["x0"], torch.Tensor)
            and settings["x0"].dtype == torch.float64
            and settings["x0"].dim() == 1
            and isinstance(settings["sigma0"], float)
            and math.isfinite(settings["sigma0"])
            and settings["sigma0"] > 0
            and (settings["popsize"] is None or (is_int(settings["popsize"]) and settings["popsize"] >= 2))
            and isinstance(settings["diagonal"], bool)
            and is_int(settings["seed"])
            and settings["seed"] >= 0
        )
        if not valid:
            raise ValueError("pycma engine: its settings are not those of a PycmaEngine")
        self.settings, self.dtype, self.device = settings, state["dtype"], state["device"]
        self.diagonal = settings["diagonal"]
        self.told = list(told.double().numpy()) if told.numel() else []
        self.es = None

    @property
    def popsize(self) -> int:
        return self.es.popsize

    @property
    def mean(self) -> torch.Tensor:
        return torch.as_tensor(self.es.mean, dtype=self.dtype, device=self.device)

    @property
    def sigma(self) -> float:
        return float(self.es.sigma)

    def ask(self) -> torch.Tensor:
        self._asked = self.es.ask()
        return torch.as_tensor(np.stack(self._asked), dtype=self.dtype, device=self.device)

    def tell(self, fitness: torch.Tensor) -> None:
        """Fitness (lower is better) of the last asked population, in the same order."""
        values = fitness.detach().cpu().double().tolist()
        self.es.tell(self._asked, values)
        self.told.append(np.asarray(values, dtype=np.float64))

    def stop(self) -> dict:
        return self.es.stop()


def replay(engines: list) -> None:
    """Rebuild the pycma engines among `engines` (restored from a checkpoint) by redoing
    their construction and their ask/tell calls in the order a step makes them: all asks,
    then all tells. Costs the engines' own time, no fitness evaluations."""
    engines = [engine for engine in engines if isinstance(engine, PycmaEngine)]
    if not engines:
        return
    generations = {len(engine.told) for engine in engines}
    if len(generations) != 1:
        raise ValueError(f"pycma engines told different numbers of generations: {sorted(generations)}")
    for engine in engines:
        engine._start()
    for generation in range(generations.pop()):
        for engine in engines:
            engine._asked = engine.es.ask()
        for engine in engines:
            engine.es.tell(engine._asked, engine.told[generation].tolist())
