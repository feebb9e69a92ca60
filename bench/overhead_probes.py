"""bench/speed.py's measurements of a run's fixed costs (what a run spends besides its steps), each in its
own process and in whichever tree is first on the path: they use only APIs both trees have."""

from __future__ import annotations

import statistics
import time

import torch


def fold(repeats: int = 30) -> dict:
    """Milliseconds to make the BatchNorm-folded inference copy of each frozen network a `small` run folds:
    a teacher (every teacher run's evaluation, every transfer's teachers), an encoder (every downstream
    run's embedding), a decoder (every downstream run's scoring). Median of `repeats`, 1 thread."""
    from mike.models.autoencoder import Autoencoder

    try:
        from mike.models.folding import folded_for_inference
    except ImportError:  # a tree from before folding (the default --before): its networks ran unfolded
        return {}
    from mike.models.segmenter import Segmenter
    from mike.profiles import get_profile

    p = get_profile("small")
    torch.manual_seed(0)
    ae = Autoencoder(p.autoencoder_widths, p.autoencoder_expand)
    models = {
        "teacher": Segmenter(p.segmenter_widths, p.segmenter_expand),
        "encoder": ae.encoder,
        "decoder": ae.fresh_decoder(3),
    }
    result = {}
    for name, model in models.items():
        model = model.to(memory_format=torch.channels_last).eval()
        times = []
        for _ in range(repeats + 3):
            started = time.perf_counter()
            folded_for_inference(model)
            times.append(time.perf_counter() - started)
        result[name] = 1000 * statistics.median(times[3:])
    return result


PROBES = {"fold": fold}
