"""How fast one GPU trains and evaluates the spec's model, in padded tokens/s.

The default is a table by model size (XLM-R base and large, bf16, on one
A100/H100-class GPU). It is deliberately conservative: it counts every
sequence at ``max_seq_length`` and assumes a modest share of the chip's peak,
so real sweeps with dynamic padding finish sooner. ``raygrid plan
--throughput N`` overrides it with a measured figure (benchmarks/plan_throughput.py
measures one; docs/benchmarks.md has the numbers).

Arithmetic behind the table (training costs about 6 FLOPs per parameter and
token, forward-only evaluation about 2; Kaplan et al. 2020):

* large: 24 layers x 12 x 1024^2 = 302M non-embedding parameters -> about
  1.9 GFLOP per trained token with attention at length 256;
  30,000 tokens/s = 57 TFLOP/s, 18% of an A100's bf16 dense peak (312).
* base: 12 x 12 x 768^2 = 85M -> about 0.55 GFLOP per token;
  90,000 tokens/s = 50 TFLOP/s, 16% of the same peak.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

#: Default training throughput per GPU (padded tokens/s), by model size.
DEFAULT_TRAIN_TOKENS_PER_S: dict[str, float] = {"base": 90_000.0, "large": 30_000.0}
#: Forward-only evaluation is about 3x training (2 vs 6 FLOPs per parameter and token).
EVAL_SPEEDUP = 3.0
#: Non-embedding parameters of the two XLM-R sizes (12 * layers * hidden^2).
PARAMETERS: dict[str, int] = {"base": 12 * 12 * 768**2, "large": 12 * 24 * 1024**2}


@dataclass(frozen=True)
class Throughput:
    """Tokens per second per GPU.

    Attributes:
        train_tokens_per_s: fine-tuning (forward + backward + optimizer).
        eval_tokens_per_s: forward only.
        source: where the figure comes from (a sentence for the report).
    """

    train_tokens_per_s: float
    eval_tokens_per_s: float
    source: str


def model_size(name_or_path: str) -> str | None:
    """``base`` or ``large`` from a hub id or a local config; ``None``: unknown.

    Example:
        >>> model_size("FacebookAI/xlm-roberta-large"), model_size("xlm-roberta-base")
        ('large', 'base')
    """
    lowered = name_or_path.lower()
    for size in ("large", "base"):
        if size in lowered.rsplit("/", 1)[-1]:
            return size
    return None


def local_parameters(name_or_path: str) -> int | None:
    """Non-embedding parameters from a local ``config.json`` (``None``: no such file)."""
    config = Path(name_or_path) / "config.json"
    if not config.is_file():
        return None
    data = json.loads(config.read_text())
    return 12 * int(data["num_hidden_layers"]) * int(data["hidden_size"]) ** 2


def resolve_throughput(name_or_path: str, override: float | None = None) -> Throughput:
    """The throughput for the model: ``override`` if given, else the table,
    else scaled from the large model by parameter count (a local model).

    Raises:
        ValueError: the model's size is unknown and no override was given.
    """
    if override is not None:
        return Throughput(override, override * EVAL_SPEEDUP, f"--throughput {override:g} tokens/s/GPU")
    size = model_size(name_or_path)
    if size is not None:
        train = DEFAULT_TRAIN_TOKENS_PER_S[size]
        return Throughput(
            train, train * EVAL_SPEEDUP, f"default for XLM-R {size}, bf16, one A100/H100-class GPU (conservative)"
        )
    parameters = local_parameters(name_or_path)
    if parameters is None:
        raise ValueError(
            f"cannot tell the size of model {name_or_path!r} (not 'base'/'large', no local config.json); "
            "give --throughput TOKENS_PER_S"
        )
    # Same sustained FLOP rate as the large default, spread over fewer parameters.
    train = DEFAULT_TRAIN_TOKENS_PER_S["large"] * PARAMETERS["large"] / max(parameters, 1)
    return Throughput(train, train * EVAL_SPEEDUP, f"scaled from XLM-R large by parameters ({parameters:,})")


__all__ = ["DEFAULT_TRAIN_TOKENS_PER_S", "EVAL_SPEEDUP", "PARAMETERS", "Throughput", "model_size", "resolve_throughput"]
