"""The 11 three-class segmentation tasks of MIKE Section 4.1, with COCO's own category names and ids."""

from __future__ import annotations

from dataclasses import dataclass

# COCO 2017 category ids and supercategories of the 33 classes the tasks use.
COCO_CATEGORIES: dict[str, tuple[int, str]] = {
    "person": (1, "person"),
    "handbag": (31, "accessory"),
    "backpack": (27, "accessory"),
    "bench": (15, "outdoor"),
    "traffic light": (10, "outdoor"),
    "stop sign": (13, "outdoor"),
    "sports ball": (37, "sports"),
    "surfboard": (42, "sports"),
    "skateboard": (41, "sports"),
    "sink": (81, "appliance"),
    "oven": (79, "appliance"),
    "refrigerator": (82, "appliance"),
    "pizza": (59, "food"),
    "cake": (61, "food"),
    "sandwich": (54, "food"),
    "dog": (18, "animal"),
    "cat": (17, "animal"),
    "horse": (19, "animal"),
    "cup": (47, "kitchen"),
    "bottle": (44, "kitchen"),
    "bowl": (51, "kitchen"),
    "chair": (62, "furniture"),
    "dining table": (67, "furniture"),
    "potted plant": (64, "furniture"),
    "cell phone": (77, "electronic"),
    "tv": (72, "electronic"),
    "laptop": (73, "electronic"),
    "car": (3, "vehicle"),
    "truck": (8, "vehicle"),
    "bus": (6, "vehicle"),
    "book": (84, "indoor"),
    "clock": (85, "indoor"),
    "vase": (86, "indoor"),
}


@dataclass(frozen=True)
class Task:
    """One tri-class segmentation task: a short code and its three COCO class names, in channel order."""

    code: str
    classes: tuple[str, str, str]

    @property
    def category_ids(self) -> tuple[int, int, int]:
        return tuple(COCO_CATEGORIES[name][0] for name in self.classes)  # type: ignore[return-value]


# Order as listed in Section 4.1 (and the clockwise order of the radar charts).
TASKS: tuple[Task, ...] = (
    Task("PHB", ("person", "handbag", "backpack")),
    Task("BTS", ("bench", "traffic light", "stop sign")),
    Task("SSS", ("sports ball", "surfboard", "skateboard")),
    Task("SOR", ("sink", "oven", "refrigerator")),
    Task("PCS", ("pizza", "cake", "sandwich")),
    Task("DCH", ("dog", "cat", "horse")),
    Task("CBB", ("cup", "bottle", "bowl")),
    Task("CDP", ("chair", "dining table", "potted plant")),
    Task("CTL", ("cell phone", "tv", "laptop")),
    Task("CTB", ("car", "truck", "bus")),
    Task("BCV", ("book", "clock", "vase")),
)
TASK_CODES: tuple[str, ...] = tuple(t.code for t in TASKS)


def get_task(code: str) -> Task:
    for task in TASKS:
        if task.code == code:
            return task
    raise KeyError(f"unknown task {code!r}; known tasks: {', '.join(TASK_CODES)}")
