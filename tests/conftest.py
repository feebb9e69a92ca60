"""Shared fixtures: one small synthetic COCO for the whole test session."""

from pathlib import Path

import pytest

from mike.data.synthetic_coco import SyntheticCocoConfig, generate_synthetic_coco

TINY_COCO = SyntheticCocoConfig(train_instances_per_class=6, val_instances_per_class=3, seed=1)


@pytest.fixture(scope="session")
def tiny_coco(tmp_path_factory) -> Path:
    return generate_synthetic_coco(TINY_COCO, tmp_path_factory.mktemp("coco"))
