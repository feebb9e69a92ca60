"""The measurements behind bench/speed.py, each run in its own process (so its peak memory is its own),
in whichever tree is first on the path: they use only APIs that both the old and the new tree have."""

from __future__ import annotations

import inspect
import resource
import tempfile
import time
from pathlib import Path

import torch


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bookkeeping(artifact_kib: str = "1024", runs: int = 30, stored: str = "300") -> dict:
    """Seconds per run of a stage that does no work but log 80 steps and store an artifact (0: none, like
    a downstream evaluation; 1024: a model of about the paper-width autoencoder's size), in a store that
    already holds `stored` runs (a smoke suite's worth: lookups that scan the store grow with it)."""
    from benchmark.runs import RunSpec, execute
    from benchmark.store import RunStore, connect, embedded_server

    def body(ctx):
        for step in range(80):
            ctx.log(step, {"loss": 0.5})
        if int(artifact_kib):
            ctx.add_artifact("model.pt", {"w": torch.zeros(int(artifact_kib) * 256)})
        return {"x": 1.0}

    new_api = "mongo_url" not in inspect.signature(execute).parameters
    with tempfile.TemporaryDirectory() as work, embedded_server(Path(work) / "db") as url:
        store = RunStore(connect(url), url)
        if hasattr(store, "ensure_indexes"):
            store.ensure_indexes()  # as `mike-bench suite` does before its first run
        filler = {"stage": "downstream", "seed": 0, "data": {"tri_class": {"size": 64}}, "note": "x" * 2000}
        store.db.runs.insert_many(
            [
                {
                    "_id": 10**6 + i,
                    "status": "COMPLETED",
                    "config": filler,
                    "captured_out": "y" * 5000,
                    "meta": {"config_hash": f"filler{i}"},
                    "result": {"iou": 0.5},
                }
                for i in range(int(stored))
            ]
        )
        times = []
        for i in range(runs + 2):
            spec = RunSpec("downstream", f"run {i}", {"stage": "downstream", "seed": 0, "i": i})
            started = time.perf_counter()
            if new_api:
                execute(spec, store, body, {})
            else:
                execute(spec, store, url, body, {})
            times.append(time.perf_counter() - started)
    return {"per_run": sum(times[2:]) / runs}


def transfer(profile: str, teachers: str, routing: str, steps: int = 4, warmup: int = 2) -> dict:
    """Seconds per MIKE transfer step with N frozen teachers (random weights), batch 32."""
    from mike.losses import mike_loss
    from mike.models.autoencoder import Autoencoder
    from mike.models.segmenter import Segmenter
    from mike.profiles import get_profile
    from mike.schedules import make_schedule
    from mike.training.loop import prepare

    p, n, device = get_profile(profile), int(teachers), torch.device("cpu")
    torch.manual_seed(0)
    ensemble = [prepare(Segmenter(p.segmenter_widths, p.segmenter_expand), device).freeze() for _ in range(n)]
    if routing == "stacked":
        from mike.models.stacked import StackedTeachers

        ensemble = StackedTeachers(ensemble)
    ae = prepare(Autoencoder(p.autoencoder_widths, p.autoencoder_expand), device)
    optimizer = torch.optim.Adam(ae.parameters())
    schedule = make_schedule("uniform", [18] * n, 100)
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(32, 3, 64, 64).contiguous(memory_format=torch.channels_last)

    def step():
        owner = torch.randint(0, n, (32,), generator=generator)  # each sample belongs to one teacher
        membership = torch.zeros(32, n, dtype=torch.bool)
        membership[torch.arange(32), owner] = True
        loss, _ = mike_loss(ensemble, x, ae(x), membership, schedule(0), routing=routing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return {"step": (time.perf_counter() - started) / steps, "peak_mib": _peak_mib()}


def downstream(k: int = 11, steps: int = 4) -> dict:
    """One optimiser step of k decoders (small widths, batch 32): a loop of k, and one vmapped stack."""
    import copy

    from torch.func import functional_call, stack_module_state, vmap

    from mike.losses import segmentation_loss
    from mike.models.autoencoder import Autoencoder
    from mike.profiles import get_profile
    from mike.training.loop import prepare

    p = get_profile("small")
    torch.manual_seed(0)
    ae = Autoencoder(p.autoencoder_widths, p.autoencoder_expand)
    z, masks = torch.randn(k, 32, 2, 8, 8), (torch.rand(k, 32, 3, 64, 64) > 0.8).float()
    decoders = [prepare(ae.fresh_decoder(3), torch.device("cpu")) for _ in range(k)]
    optimizers = [torch.optim.Adam(d.parameters()) for d in decoders]

    def loop():
        for d, o, zz, mm in zip(decoders, optimizers, z, masks, strict=True):
            loss = segmentation_loss(d(zz), mm)
            o.zero_grad()
            loss.backward()
            o.step()

    params, buffers = stack_module_state([ae.fresh_decoder(3) for _ in range(k)])
    base = copy.deepcopy(decoders[0]).to("meta")
    stacked_optimizer = torch.optim.Adam(params.values())

    def one(pp, bb, zz, mm):
        return segmentation_loss(functional_call(base, (pp, bb), (zz,)), mm)

    def stacked():
        loss = vmap(one)(params, buffers, z, masks).sum()
        stacked_optimizer.zero_grad()
        loss.backward()
        stacked_optimizer.step()

    result = {}
    for name, fn in (("loop", loop), ("vmap", stacked)):
        fn()
        started = time.perf_counter()
        for _ in range(steps):
            fn()
        result[name] = (time.perf_counter() - started) / steps
    return result


def optimizer(steps: int = 20) -> dict:
    """Seconds per Adam step, torch's default (one tensor at a time) against the fused kernel, for a feature
    coder's 2048×9408 output layer (19 M parameters) and for 60 small conv weights (a MIKE decoder)."""
    out = {}
    for name, shapes in (("coder", [(2048, 9408), (9408,), (2048,)]), ("decoder", [(8, 8, 3, 3)] * 60)):
        for kind, kwargs in (("default", {}), ("fused", {"fused": True})):
            params = [torch.nn.Parameter(torch.randn(*s)) for s in shapes]
            for p in params:
                p.grad = torch.randn_like(p)
            opt = torch.optim.Adam(params, lr=1e-3, **kwargs)
            for _ in range(3):
                opt.step()
            started = time.perf_counter()
            for _ in range(steps):
                opt.step()
            out[f"{name}_{kind}"] = (time.perf_counter() - started) / steps
    return out


def grouped(models: int = 11, steps: int = 10) -> dict:
    """Forward and backward of a decoder's convolutions at `small` widths, batch 32: `models` separate
    layers one after another against one grouped convolution holding them all (how stacked or vmapped
    models run): seconds for all of them, per layer shape."""
    out = {}
    for cin, cout, k, hw, depthwise in ((8, 3, 3, 64, False), (16, 16, 3, 32, True), (16, 8, 1, 32, False)):
        g = cin if depthwise else 1
        fmt = torch.channels_last

        def timed(conv, x):
            for _ in range(3):
                conv(x).sum().backward()
            started = time.perf_counter()
            for _ in range(steps):
                conv(x).sum().backward()
            return (time.perf_counter() - started) / steps

        one = torch.nn.Conv2d(cin, cout, k, padding=k // 2, groups=g).to(memory_format=fmt)
        x = torch.randn(32, cin, hw, hw).contiguous(memory_format=fmt).requires_grad_()
        many = torch.nn.Conv2d(cin * models, cout * models, k, padding=k // 2, groups=g * models)
        many = many.to(memory_format=fmt)
        xs = torch.randn(32, cin * models, hw, hw).contiguous(memory_format=fmt).requires_grad_()
        out[f"{cin}->{cout} {k}x{k} at {hw}px" + (" depthwise" if depthwise else "")] = {
            "separate": models * timed(one, x),
            "grouped": timed(many, xs),
        }
    return out


def decoder_alone(keep: str = "keep", steps: int = 200) -> dict:
    """A downstream decoder's steps at `small` widths in a fresh process that runs nothing else, with glibc's
    malloc thresholds fixed (benchmark.allocator) or left adaptive: seconds and page faults per step."""
    import resource

    if keep == "keep":
        from benchmark.allocator import keep_freed_memory

        keep_freed_memory()
    from mike.losses import segmentation_loss
    from mike.models.autoencoder import Autoencoder
    from mike.profiles import get_profile
    from mike.training.loop import prepare

    p = get_profile("small")
    torch.manual_seed(0)
    decoder = prepare(
        Autoencoder(p.autoencoder_widths, p.autoencoder_expand).fresh_decoder(3), torch.device("cpu")
    )
    z = torch.randn(32, 2, 8, 8).contiguous(memory_format=torch.channels_last)
    masks = (torch.rand(32, 3, 64, 64) > 0.8).float()
    optimizer = torch.optim.Adam(decoder.parameters(), fused=True)

    def step():
        loss = segmentation_loss(decoder(z), masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(10):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return {
        "seconds": (time.perf_counter() - started) / steps,
        "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps,
    }


def target_cache(profile: str = "cpu", images: str = "1800", rounds: int = 8, steps: int = 10) -> dict:
    """A one-teacher transfer step with the teacher's targets computed every step against once per run
    (mike.training.target_cache), interleaved in one process on one task's worth of query images; and the
    seconds the once-per-run computation takes."""
    import statistics

    from mike.models.autoencoder import Autoencoder
    from mike.models.segmenter import Segmenter
    from mike.profiles import get_profile
    from mike.schedules import make_schedule
    from mike.training.loop import prepare
    from mike.training.transfer import QuerySet, mike_step_loss

    p, cpu, n = get_profile(profile), torch.device("cpu"), int(images)
    batch = p.transfer.batch_size
    torch.manual_seed(0)
    pictures = torch.randint(0, 256, (n, 3, 64, 64), dtype=torch.uint8)
    teacher = Segmenter(p.segmenter_widths, p.segmenter_expand)
    query = QuerySet(pictures, torch.ones(n, 1, dtype=torch.bool))
    schedule = make_schedule("uniform", [len(teacher.layer_names)], 1000)
    steppers, setup = {}, {}
    for name, target_batch in (("every step", None), ("once per run", batch)):
        model = prepare(Autoencoder(p.autoencoder_widths, p.autoencoder_expand), cpu)
        optimizer = torch.optim.Adam(model.parameters(), fused=True)
        started = time.perf_counter()
        loss_of = mike_step_loss(model, [teacher], query, schedule, "routed", cpu, target_batch=target_batch)
        setup[name] = time.perf_counter() - started
        draw = torch.Generator().manual_seed(1)

        def step(loss_of=loss_of, optimizer=optimizer, draw=draw):
            loss = loss_of(0, torch.randperm(n, generator=draw)[:batch])[0]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        step()
        steppers[name] = step
    times: dict[str, list[float]] = {name: [] for name in steppers}
    for _ in range(rounds):  # interleaved: this VM's speed drifts
        for name, step in steppers.items():
            started = time.perf_counter()
            for _ in range(steps):
                step()
            times[name].append((time.perf_counter() - started) / steps)
    return {"step": {k: statistics.median(v) for k, v in times.items()}, "setup": setup, "images": n}


PROBES = {
    "decoder_alone": decoder_alone,
    "bookkeeping": bookkeeping,
    "transfer": transfer,
    "downstream": downstream,
    "optimizer": optimizer,
    "grouped": grouped,
    "target_cache": target_cache,
}
