"""The LunarLander collection (feature-prediction paper, Section III-A), generated with gymnasium.

Random policy, rollouts of a fixed length with no reset when the episode ends (as in the original code),
each frame rendered, resized to 64×64 (bicubic) and labelled with the lander's normalised (x, y), i.e.
observation[0:2]. Three collections: autoencoder training, probe training, probe test; the probe
collections drop frames whose lander is off-screen (keep -1 ≤ x ≤ 1 and -0.5 ≤ y ≤ 1.5).

Fixed from the original: it rendered the frame before `step` but stored the observation after it, so each
label was one step ahead of its frame. Here the label is the state the frame shows (`label_offset=0`);
`label_offset=1` reproduces the original pairing. gymnasium 1.x has only LunarLander-v3 (v2 is gone).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mike.data.cache import atomic_directory, config_hash, is_complete
from mike.data.labelled_images import LabelledImages, load_images, save_images
from mike.data.specs import LunarLanderConfig

COLLECTIONS = ("autoencoder", "probe_train", "probe_test")
X_RANGE, Y_RANGE = (-1.0, 1.0), (-0.5, 1.5)  # on-screen, as filtered in the original


def on_screen(labels: np.ndarray) -> np.ndarray:
    x, y = labels[:, 0], labels[:, 1]
    return (x >= X_RANGE[0]) & (x <= X_RANGE[1]) & (y >= Y_RANGE[0]) & (y <= Y_RANGE[1])


def _frame(env, size: int) -> np.ndarray:
    image = Image.fromarray(env.render()).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(image).transpose(2, 0, 1)


def generate(cfg: LunarLanderConfig, collection: str) -> LabelledImages:
    """One collection, deterministic for (cfg, collection)."""
    import gymnasium as gym

    index = COLLECTIONS.index(collection)
    # The raw environment: the original kept stepping after the episode ended, which gymnasium's
    # wrappers would flag; the physics itself carries on (a crashed lander lies still).
    env = gym.make(cfg.environment, render_mode="rgb_array").unwrapped
    env.action_space.seed(cfg.seed * 1009 + index)
    frames, labels = [], []
    try:
        for rollout in range(cfg.rollouts):
            obs, _ = env.reset(seed=(cfg.seed * 3 + index) * 100_003 + rollout)
            for _ in range(cfg.steps):
                frame = _frame(env, cfg.image_size)
                shown = obs
                obs, *_ = env.step(env.action_space.sample())
                frames.append(frame)
                labels.append((obs if cfg.label_offset else shown)[:2].copy())
    finally:
        env.close()
    images, positions = np.stack(frames), np.stack(labels).astype(np.float32)
    if collection != "autoencoder":
        keep = on_screen(positions)
        images, positions = images[keep], positions[keep]
    return LabelledImages(torch.from_numpy(images), torch.from_numpy(positions))


def lunar_lander(cfg: LunarLanderConfig, collection: str, cache_root: Path) -> LabelledImages:
    """Generate (or load from the cache) one collection."""
    if collection not in COLLECTIONS:
        raise ValueError(f"unknown LunarLander collection {collection!r}; one of {', '.join(COLLECTIONS)}")
    target = Path(cache_root) / f"lunar-lander-{collection}-{config_hash(asdict(cfg))}"
    if not is_complete(target):
        data = generate(cfg, collection)
        with atomic_directory(target) as scratch:
            save_images(scratch / "data.npz", data)
            (scratch / "meta.json").write_text(json.dumps({"collection": collection, "config": asdict(cfg)}))
    return load_images(target / "data.npz")
