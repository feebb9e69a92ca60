"""Synthetic COCO, the pycocotools builder: format, determinism, caching, and bad input."""

import json
import shutil

import pytest
import torch
from pycocotools.coco import COCO

from mike.data import tri_class
from mike.data.synthetic_coco import SyntheticCocoConfig, drawing_digest, generate_synthetic_coco
from mike.data.tasks import COCO_CATEGORIES, TASKS, get_task
from mike.data.tri_class import DatasetError, TriClassConfig, build_tri_class

CFG = TriClassConfig(augmentations_per_instance=2, seed=3)


def test_synthetic_coco_is_real_coco_format(tiny_coco):
    coco = COCO(str(tiny_coco / "annotations" / "instances_train2017.json"))
    cats = {c["name"]: c["id"] for c in coco.loadCats(coco.getCatIds())}
    assert cats == {name: cid for name, (cid, _) in COCO_CATEGORIES.items()}
    assert len(cats) == 33 and sum(len(t.classes) for t in TASKS) == 33
    anns = coco.loadAnns(coco.getAnnIds())
    kinds = {type(a["segmentation"]).__name__ for a in anns}
    assert kinds == {"list", "dict"}  # polygons for whole objects, RLE for occluded ones
    for a in anns[:50]:
        m = coco.annToMask(a)
        assert m.sum() > 0 and a["iscrowd"] == 0 and len(a["bbox"]) == 4 and a["area"] > 0
        img = coco.loadImgs(a["image_id"])[0]
        assert (tiny_coco / "train2017" / img["file_name"]).is_file()
    for cid in cats.values():  # every class has its instances
        assert len(coco.getAnnIds(catIds=[cid])) >= 6


def test_builder_output_shapes_and_masks(tiny_coco, tmp_path):
    data = build_tri_class(tiny_coco, get_task("DCH"), "train2017", CFG, tmp_path)
    assert data.images.shape[1:] == (3, 64, 64) and data.images.dtype == torch.uint8
    assert data.masks.shape == (len(data), 3, 64, 64) and data.masks.dtype == torch.bool
    assert len(data) >= 3 * 6 * 2
    # every channel is used, and crops are centred on an instance: most crops have some mask pixels
    assert all(data.masks[:, c].any() for c in range(3))
    assert (data.masks.flatten(1).any(1)).float().mean() > 0.9


def test_build_is_deterministic_and_cached(tiny_coco, tmp_path, monkeypatch):
    a = build_tri_class(tiny_coco, get_task("BTS"), "val2017", CFG, tmp_path / "one")
    b = build_tri_class(tiny_coco, get_task("BTS"), "val2017", CFG, tmp_path / "two")
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    other = build_tri_class(
        tiny_coco,
        get_task("BTS"),
        "val2017",
        TriClassConfig(augmentations_per_instance=2, seed=4),
        tmp_path / "one",
    )
    assert not torch.equal(a.images, other.images)

    def no_work(*args, **kwargs):
        raise AssertionError("a cached build must not be redone")

    monkeypatch.setattr(tri_class, "_build", no_work)
    monkeypatch.setattr(tri_class, "load_coco", no_work)
    again = build_tri_class(tiny_coco, get_task("BTS"), "val2017", CFG, tmp_path / "one")
    assert torch.equal(again.images, a.images)


def test_synthetic_generation_is_deterministic_and_cached(tmp_path):
    cfg = SyntheticCocoConfig(train_instances_per_class=2, val_instances_per_class=1, seed=5)
    r1 = generate_synthetic_coco(cfg, tmp_path / "a")
    r2 = generate_synthetic_coco(cfg, tmp_path / "b")
    for name in ("annotations/instances_train2017.json", "train2017/000000000001.jpg"):
        assert (r1 / name).read_bytes() == (r2 / name).read_bytes()
    mtime = (r1 / "annotations/instances_train2017.json").stat().st_mtime
    assert generate_synthetic_coco(cfg, tmp_path / "a") == r1
    assert (r1 / "annotations/instances_train2017.json").stat().st_mtime == mtime


# sha256 of conftest's TINY_COCO (paths and bytes of its images and annotation files) as drawn before the
# drawing code was made faster: a change to the drawing must bump SYNTHETIC_COCO_VERSION and this digest.
TINY_COCO_DIGEST = "707c832fe8c4648135597fb482d718067746af505301fe0f0103dd16e818fcf1"


def test_synthetic_coco_is_the_recorded_drawing(tiny_coco):
    assert drawing_digest(tiny_coco) == (175, TINY_COCO_DIGEST)


def test_cached_coordinate_grids_are_read_only():
    from mike.data.class_styles import _centred_grid
    from mike.data.synthetic_coco import _signed_grid, _unit_grid

    for grids in (_unit_grid(12, 16), _signed_grid(9), _centred_grid(9)):
        for grid in grids:
            with pytest.raises(ValueError, match="read-only"):
                grid[0, 0] = 1.0


def no_leftovers(cache):
    return not cache.exists() or not any(
        p.name.startswith("tri-class") or p.name.startswith(".tmp") for p in cache.iterdir()
    )


def test_missing_root_and_annotation_file(tmp_path):
    with pytest.raises(DatasetError, match="COCO root not found: .*nowhere"):
        build_tri_class(tmp_path / "nowhere", get_task("BTS"), "train2017", CFG, tmp_path / "cache")
    (tmp_path / "root").mkdir()
    with pytest.raises(DatasetError, match="annotation file not found: .*instances_train2017.json"):
        build_tri_class(tmp_path / "root", get_task("BTS"), "train2017", CFG, tmp_path / "cache")
    assert no_leftovers(tmp_path / "cache")


def copy_root(tiny_coco, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(tiny_coco, root)
    return root


def test_non_coco_annotation_file(tiny_coco, tmp_path):
    root = copy_root(tiny_coco, tmp_path)
    ann = root / "annotations" / "instances_val2017.json"
    ann.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(DatasetError, match="not a COCO instances file .*instances_val2017.json"):
        build_tri_class(root, get_task("BTS"), "val2017", CFG, tmp_path / "cache")
    ann.write_text("{ truncated")
    with pytest.raises(DatasetError, match="not a readable JSON file"):
        build_tri_class(root, get_task("BTS"), "val2017", CFG, tmp_path / "cache")
    assert no_leftovers(tmp_path / "cache")


def test_class_with_no_instances(tiny_coco, tmp_path):
    root = copy_root(tiny_coco, tmp_path)
    ann = root / "annotations" / "instances_val2017.json"
    doc = json.loads(ann.read_text())
    doc["annotations"] = [
        a for a in doc["annotations"] if a["category_id"] != COCO_CATEGORIES["stop sign"][0]
    ]
    ann.write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="class 'stop sign' of task BTS has no instances in val2017"):
        build_tri_class(root, get_task("BTS"), "val2017", CFG, tmp_path / "cache")
    assert no_leftovers(tmp_path / "cache")


def test_unreadable_image_leaves_no_cache(tiny_coco, tmp_path):
    root = copy_root(tiny_coco, tmp_path)
    doc = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    bench = COCO_CATEGORIES["bench"][0]
    image_id = next(a["image_id"] for a in doc["annotations"] if a["category_id"] == bench)
    broken = root / "val2017" / f"{image_id:012d}.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match=f"unreadable image: .*{broken.name}"):
        build_tri_class(root, get_task("BTS"), "val2017", CFG, tmp_path / "cache")
    assert no_leftovers(tmp_path / "cache")


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _zero(path):
    path.write_bytes(bytes(path.stat().st_size))


def _flip_one_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the image array: np.load would read it without complaint
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _zero, _flip_one_byte], ids=["truncated", "zeroed", "flipped"])
def test_a_damaged_cache_is_detected_and_rebuilt(tiny_coco, tmp_path, capsys, damage):
    first = build_tri_class(tiny_coco, get_task("BTS"), "val2017", CFG, tmp_path)
    (cache_dir,) = [p for p in tmp_path.iterdir() if p.name.startswith("tri-class")]
    damage(cache_dir / "data.npz")
    capsys.readouterr()
    again = build_tri_class(tiny_coco, get_task("BTS"), "val2017", CFG, tmp_path)
    assert torch.equal(again.images, first.images) and torch.equal(again.masks, first.masks)
    err = capsys.readouterr().err
    assert f"cache {cache_dir} does not match what was written (data.npz): rebuilding it" in err
    assert [p.name for p in tmp_path.iterdir()] == [cache_dir.name]  # rebuilt in place, no leftovers
    capsys.readouterr()
    build_tri_class(tiny_coco, get_task("BTS"), "val2017", CFG, tmp_path)
    assert capsys.readouterr().err == ""  # the rebuilt cache is whole again
