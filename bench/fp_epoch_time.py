"""Time per epoch of the six feature-prediction procedures on the same data and machine, in one run.

The paper reports I-F-FP at 55–75% of I-I-PS's time per epoch. Epochs of the procedures are interleaved
(round-robin), so every procedure sees the same machine conditions; the first round is a warm-up and is
not counted. Each epoch is timed like the suite's: a pass over the training split plus validation.

    uv run python bench/fp_epoch_time.py                         # LunarLander frames, batch 512, CPU here
    uv run python bench/fp_epoch_time.py --frames 4000 --epochs 3 --device cuda
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mike.data.lunar_lander import LunarLanderConfig, lunar_lander
from mike.featpred.loss_network import LossNetwork, alexnet_trunk, imagenet_weights_path, load_imagenet
from mike.featpred.procedures import PROCEDURES, ProcedureAutoencoder
from mike.training.epochs import split_indices


def one_epoch(model, optimizer, images, net, batch_size, device, train_idx, val_idx) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    model.train()
    for s in range(0, len(train_idx), batch_size):
        x = images[train_idx[s : s + batch_size]].to(device).float().div_(255)
        loss, _ = model.loss(x, net)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for s in range(0, len(val_idx), batch_size):
            model.loss(images[val_idx[s : s + batch_size]].to(device).float().div_(255), net)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=3000, help="LunarLander frames (paper: 105,000)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per procedure (after a warm-up)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--z", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    cfg = LunarLanderConfig(rollouts=max(1, args.frames // 150), steps=150)
    with tempfile.TemporaryDirectory() as cache:
        images = lunar_lander(cfg, "autoencoder", Path(cache)).images
    path = imagenet_weights_path(None)
    # Timing does not depend on the weights' values: without ImageNet weights, an untrained trunk.
    net = (load_imagenet(path) if path else LossNetwork(alexnet_trunk(), "untrained")).to(args.device)
    features = net.feature_size(64)
    train_idx, val_idx = split_indices(len(images), 0.2)
    models = {}
    for name in PROCEDURES:
        torch.manual_seed(0)
        model = ProcedureAutoencoder(name, 64, args.z, features).to(args.device)
        models[name] = (model, torch.optim.Adam(model.parameters()))
    times = {name: [] for name in PROCEDURES}
    for epoch in range(args.epochs + 1):
        for name, (model, optimizer) in models.items():
            wall, cpu = one_epoch(
                model, optimizer, images, net, args.batch_size, args.device, train_idx, val_idx
            )
            if epoch > 0:
                times[name].append((wall, cpu))
    hardware = (
        torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "CPU"
    )
    print(
        f"{len(images)} LunarLander frames (64×64), batch {args.batch_size}, z={args.z}, "
        f"{args.device} ({hardware}), {torch.get_num_threads()} threads, loss network {net.source}; "
        f"median of {args.epochs} epochs"
    )
    print(f"{'procedure':10s} {'wall s/epoch':>13s} {'CPU s/epoch':>12s} {'wall vs I-I-PS':>15s}")
    median = {
        n: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for n, t in times.items()
    }
    for name, (wall, cpu) in median.items():
        print(f"{name:10s} {wall:13.2f} {cpu:12.2f} {wall / median['I-I-PS'][0]:14.0%}")
    ratio_wall = median["I-F-FP"][0] / median["I-I-PS"][0]
    ratio_cpu = median["I-F-FP"][1] / median["I-I-PS"][1]
    print(f"I-F-FP / I-I-PS time per epoch: wall {ratio_wall:.2f}, CPU {ratio_cpu:.2f} (paper: 0.55–0.75)")


if __name__ == "__main__":
    main()
