"""Section 5's autoencoder variants, read from a run's `model` config: how many embedding channels, which
decoder, and whether a run has the paper's topology (the paper's figures and claims use only those)."""

from __future__ import annotations

import pandas as pd


def embedding_channels(model) -> int:
    return int(model.get("embedding_channels", 2)) if isinstance(model, dict) else 2


def decoder_variant(model) -> str:
    """'mirror' (the paper's decoder), else its widths and added blocks."""
    if not isinstance(model, dict):
        return "mirror"
    parts = []
    if "decoder_widths" in model:
        parts.append("widths " + "-".join(map(str, model["decoder_widths"])))
    if model.get("decoder_blocks"):
        parts.append(f"+{model['decoder_blocks']} blocks")
    return ", ".join(parts) or "mirror"


def paper_topology(frame: pd.DataFrame) -> pd.Series:
    """Rows whose autoencoder is the paper's (2-channel embedding, mirrored decoder), from ≤ 11 teachers."""
    return (
        (frame["embedding_channels"] == 2)
        & (frame["decoder_variant"] == "mirror")
        & (frame["n_teachers"] <= 11)
    )


def of_study(frame: pd.DataFrame, study: str) -> pd.DataFrame:
    """The rows a Section 5 study made (its `study` mark); an empty frame stays empty."""
    return frame[frame["study"] == study] if not frame.empty else frame
