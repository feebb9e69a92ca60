"""The per-stage step measurements behind `bench/speed.py --only stages`, run in whichever tree is first on
the path (this tree's or an older one's): each stage's step as that tree builds it."""

from __future__ import annotations

import time

import torch


def stage_steps(profile: str = "small", steps: int = 15, repeats: int = 5) -> dict:
    """Seconds per optimiser step of each `suite single` stage at the profile's widths and batch: a teacher,
    MIKE transfer from one teacher, the pixel-wise baseline, a downstream decoder; and the seconds a
    downstream run spends outside its steps (embedding, scoring). Medians of `repeats`."""
    import statistics

    import torch.nn.functional as F

    from mike.losses import segmentation_loss
    from mike.models.autoencoder import Autoencoder
    from mike.models.segmenter import Segmenter
    from mike.profiles import get_profile
    from mike.schedules import make_schedule
    from mike.training.downstream import embed
    from mike.training.loop import prepare
    from mike.training.teacher import evaluate_segmenter
    from mike.training.transfer import QuerySet

    _malloc_as_the_suites_set_it()
    p = get_profile(profile)
    cpu = torch.device("cpu")
    batch = p.downstream.batch_size
    torch.manual_seed(0)
    x = torch.rand(batch, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    masks = (torch.rand(batch, 3, 64, 64) > 0.8).float()
    try:  # masks as the stages hold them: channels-last since 2026-12-06, channels-first before
        from mike.training.loop import resident_masks

        masks = resident_masks(masks, cpu)
    except ImportError:
        pass
    z = torch.randn(batch, 2, 8, 8).contiguous(memory_format=torch.channels_last)
    teacher = prepare(Segmenter(p.segmenter_widths, p.segmenter_expand), cpu).freeze()

    def stepper(model, loss_of):
        optimizer = torch.optim.Adam([q for q in model.parameters() if q.requires_grad])

        def step():
            loss = loss_of(model)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        return step

    ae = lambda: prepare(Autoencoder(p.autoencoder_widths, p.autoencoder_expand), cpu)  # noqa: E731
    fresh = lambda: prepare(Autoencoder(p.autoencoder_widths, p.autoencoder_expand).fresh_decoder(3), cpu)  # noqa: E731
    student = prepare(Segmenter(p.segmenter_widths, p.segmenter_expand), cpu)
    # the transfer stage's own step loss (teachers prepared as it prepares them), on one fixed batch
    transferring = ae()
    query = QuerySet((x * 255).to(torch.uint8), torch.ones(batch, 1, dtype=torch.bool))
    schedule = make_schedule("uniform", [len(teacher.layer_names)], 1000)
    transfer_loss = _transfer_step_loss(transferring, [teacher], query, schedule, batch, cpu)
    everything = torch.arange(batch)
    stages = {
        "teacher": stepper(student, lambda m: segmentation_loss(m(x), masks)),
        "transfer": stepper(transferring, lambda m: transfer_loss(0, everything)[0]),
        "baseline": stepper(ae(), lambda m: F.mse_loss(m(x), x)),
        "downstream": stepper(fresh(), lambda m: segmentation_loss(m(z), masks)),
    }
    # a downstream run's work besides its steps: embed its task's images (train and test split at `small`)
    # with the frozen encoder, then score the trained decoder on the test embeddings
    images = (torch.rand(1800 + 480, 3, 64, 64) * 255).to(torch.uint8)
    test_masks = (torch.rand(480, 3, 64, 64) > 0.8).to(torch.uint8)
    encoder, decoder = ae().encoder, fresh()

    def fixed():
        embedded = embed(encoder, images)
        evaluate_segmenter(decoder, embedded[1800:], test_masks)

    times: dict[str, list[float]] = {name: [] for name in [*stages, "downstream fixed"]}
    for step in stages.values():
        step()
    fixed()
    for _ in range(repeats):  # interleaved, so a busy moment costs every stage alike
        for name, step in stages.items():
            started = time.perf_counter()
            for _ in range(steps):
                step()
            times[name].append((time.perf_counter() - started) / steps)
        started = time.perf_counter()
        fixed()
        times["downstream fixed"].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def _malloc_as_the_suites_set_it() -> None:
    """glibc's malloc thresholds fixed, as every suite process sets them since the allocator change (trees
    from before it have no such module): without it a paper-width step page-faults its big maps afresh."""
    try:
        from benchmark.allocator import keep_freed_memory

        keep_freed_memory()
    except ImportError:
        pass


def _transfer_step_loss(autoencoder, teachers, query, schedule, batch, device):
    """The transfer stage's step loss as the measured tree builds it: `mike_step_loss` with the teacher's
    targets computed once per run (since 2026-12-05) or every step (before), or, in trees from before
    `mike_step_loss` existed (such as the default --before), the loss that `train_mike` computed inline."""
    try:
        from mike.training.transfer import mike_step_loss
    except ImportError:
        from mike.losses import mike_loss
        from mike.training.loop import to_float_images

        def inline(step, idx):
            x = to_float_images(query.images[idx], device)
            membership = query.membership[idx].to(device)
            return mike_loss(teachers, x, autoencoder(x), membership, schedule(step), "routed")[0], {}

        return inline
    try:
        return mike_step_loss(autoencoder, teachers, query, schedule, "routed", device, target_batch=batch)
    except TypeError:
        return mike_step_loss(autoencoder, teachers, query, schedule, "routed", device)


def routed_steps(profile: str = "paper", steps: int = 10, images_per_task: int = 64) -> dict:
    """Seconds per MIKE transfer step from 1 and from 11 routed teachers as the transfer stage runs them
    (`mike_step_loss`: teachers folded, their targets computed once per run where the tree does so) at the
    profile's widths, batch 32, 1 thread; the two steps alternated in one process, medians. Each of 11 tasks
    contributes `images_per_task` query images (random; teachers untrained: the cost is the same)."""
    import itertools
    import statistics

    from mike.models.autoencoder import Autoencoder
    from mike.models.segmenter import Segmenter
    from mike.profiles import get_profile
    from mike.schedules import make_schedule
    from mike.training.loop import batch_for_step, make_optimizer
    from mike.training.transfer import QuerySet

    _malloc_as_the_suites_set_it()
    p, cpu, steps, per_task = get_profile(profile), torch.device("cpu"), int(steps), int(images_per_task)
    torch.manual_seed(0)
    images = (torch.rand(11 * per_task, 3, 64, 64) * 255).to(torch.uint8)

    def stepper(n: int):
        teachers = [Segmenter(p.segmenter_widths, p.segmenter_expand).eval() for _ in range(n)]
        membership = torch.zeros(images.shape[0], n, dtype=torch.bool)
        for task in range(11):  # task k's images belong to teacher k (to the one teacher when n = 1)
            membership[task * per_task : (task + 1) * per_task, task % n] = True
        autoencoder = Autoencoder(p.autoencoder_widths, p.autoencoder_expand)
        query = QuerySet(images, membership)
        schedule = make_schedule("uniform", [len(teachers[0].layer_names)] * n, 1000)
        loss_of = _transfer_step_loss(autoencoder, teachers, query, schedule, 32, cpu)
        optimizer, _ = make_optimizer(list(autoencoder.parameters()), p.transfer)
        counter = itertools.count()

        def step():
            k = next(counter)
            loss, _ = loss_of(k, batch_for_step(images.shape[0], 32, k, 0))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return step

    one, eleven = stepper(1), stepper(11)
    times: dict[str, list[float]] = {"1 teacher": [], "11 teachers": []}
    for k in range(steps + 2):
        for name, step in (("1 teacher", one), ("11 teachers", eleven)):
            started = time.perf_counter()
            step()
            if k >= 2:  # two warm-up steps each
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def synthetic_coco(folder: str, profile: str = "small") -> dict:
    """Seconds to draw the profile's synthetic COCO into an empty folder (left there, for the caller to
    compare with another tree's drawing)."""
    from pathlib import Path

    from mike.data.synthetic_coco import generate_synthetic_coco
    from mike.profiles import get_profile

    started = time.perf_counter()
    root = generate_synthetic_coco(get_profile(profile).synthetic, Path(folder))
    return {"seconds": time.perf_counter() - started, "root": str(root)}


PROBES = {"stage_steps": stage_steps, "routed_steps": routed_steps, "synthetic_coco": synthetic_coco}
