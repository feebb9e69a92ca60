"""Settings: which runs may be compared and averaged together, so that no pivot mixes two experiments.

A run's config minus its identity (seed, task(s), procedure, z, schedule: what a comparison is over) and
minus incidental fields (labels, paths of files known by digest) is what makes the experiment; references
to other runs (encoder, teacher(s), autoencoder, loss network) are replaced by the referenced run's own
setting, recursively. Each report row is described by components, one per part of the experiment it uses
(e.g. a downstream row of a MIKE encoder: data, teacher, downstream, MIKE encoder; an I-I-PW probe row has
no loss-network component). A setting assigns one value to every component; a row belongs to each setting
that agrees with all of its components, so the pixel-wise baselines serve both a warm-up and a no-warm-up
MIKE setting, and I-I-PW serves every loss network. Each setting is described against the profile's
default plan, e.g. "transfer.train.warmup_steps: 30 (default 0)".
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass

from mike.data.cache import config_hash
from mike.profiles import get_profile
from suites.registry import SuitePaths, build_plan

IDENTITY = {"task", "tasks", "procedure", "z", "schedule"}
INCIDENTAL = {"seed", "profile", "stage", "encoder_label", "keep_models", "path", "collection"}
NESTED_INCIDENTAL = {"checkpoint_every"}  # how often a run saves a resumable state: not the experiment
REFERENCES = {"encoder", "teacher", "teachers", "autoencoder", "loss_network"}
ABSENT_MEANS = {"downstream": {"decoder": "fresh"}}  # runs stored before the field existed
MISSING_RUN = "<referenced run not in the store>"
ABSENT = "absent"
MAX_CANDIDATES = 4096
FAMILIES = {"MIKE": ("downstream", "transfer"), "feature prediction": ("probes", "simple_cnn", "convergence")}


@dataclass(frozen=True)
class Setting:
    family: str
    name: str  # "A", "B", ... within its family
    components: tuple[tuple[str, str], ...]  # (component, key), sorted
    description: tuple[str, ...]  # how it differs from the profile's default ("" lines: none)

    @property
    def label(self) -> str:
        return f"{self.family} setting {self.name}"

    def summary(self) -> str:
        return "; ".join(self.description) if self.description else "the profile's default configuration"


class Catalogue:
    """Setting dicts of stored (or planned) configs, by config hash, and by their own key."""

    def __init__(self, configs: dict[str, dict]):
        self.configs = configs
        self.by_key: dict[str, dict] = {}
        self._memo: dict[str, dict] = {}

    def key(self, setting: dict) -> str:
        k = config_hash(setting)
        self.by_key.setdefault(k, setting)
        return k

    def of_run(self, run_hash: str | None) -> dict | str | None:
        if run_hash is None:
            return None
        if run_hash not in self.configs:
            return MISSING_RUN
        if run_hash not in self._memo:
            self._memo[run_hash] = self.strip(self.configs[run_hash])
        return self._memo[run_hash]

    def strip(self, config: dict, drop: Iterable[str] = ()) -> dict:
        """The config without identity and incidental fields, references resolved to settings."""
        out = dict(ABSENT_MEANS.get(config.get("stage"), {}))
        for field, value in config.items():
            if field in IDENTITY or field in INCIDENTAL or field in drop:
                continue
            if field in REFERENCES:
                refs = value if isinstance(value, list) else [value]
                unique = {json.dumps(s, sort_keys=True, default=str): s for s in map(self.of_run, refs)}
                values = [unique[k] for k in sorted(unique)]
                out[field] = values[0] if len(values) == 1 else values
            else:
                out[field] = _without_incidental(value)
        return out

    def components(self, config: dict, dataset: str | None = None) -> dict[str, str]:
        """{component: setting key} of one report row, from its run's config."""
        stage, comps = config.get("stage"), {}
        data = config.get("data")
        if stage in ("downstream", "transfer"):
            if data is not None:
                comps["data"] = self.key(data)
            if stage == "transfer":
                comps["MIKE encoder"] = self.key(self.strip(config, ("data",)))
                return comps
            encoder = self.configs.get(config.get("encoder"), {})
            role = "MIKE encoder" if encoder.get("stage") == "transfer" else "pixel-wise encoder"
            comps[role] = self.key(self.strip(encoder, ("data",))) if encoder else self.key({})
            if "teacher" in config:
                comps["teacher"] = self.key(self.of_run(config["teacher"]) or {})
            comps["downstream"] = self.key(self.strip(config, ("data", "encoder", "teacher")))
            return comps
        dataset = (data or {}).get("dataset") or dataset
        if data is not None:
            comps[f"data:{dataset}"] = self.key(data)
        autoencoder = config if stage == "autoencoder" else {}
        if stage == "probe":
            comps["probe"] = self.key(self.strip(config, ("data", "autoencoder")))
            autoencoder = self.configs.get(config.get("autoencoder"), {})
            if autoencoder:
                comps["autoencoder"] = self.key(self.strip(autoencoder, ("data", "loss_network")))
        elif stage == "simple_cnn":
            comps["simple CNN"] = self.key(self.strip(config, ("data",)))
        elif stage == "autoencoder":
            comps["convergence autoencoder"] = self.key(self.strip(config, ("data", "loss_network")))
        if autoencoder.get("loss_network"):
            comps["loss network"] = self.key(self.of_run(autoencoder["loss_network"]))
        return comps


def profile_defaults(profile: str, catalogue: Catalogue) -> dict[str, list[str]]:
    """{component: keys} of the profile's default plan (every suite, seed 0, no local data paths), the
    first planned first; a component may have several (e.g. Figures 5–6 transfers trained longer than
    Figure 3's). The default setting dicts are added to `catalogue` so that settings can be described."""
    plan = build_plan("all", get_profile(profile), [0], SuitePaths())
    planned = Catalogue({p.spec.hash: p.spec.config for p in plan})
    defaults: dict[str, list[str]] = {}
    for p in plan:
        if p.spec.stage in ("downstream", "transfer", "probe", "simple_cnn") or p.spec.config.get("study"):
            for name, key in planned.components(p.spec.config).items():
                keys = defaults.setdefault(name, [])
                if key not in keys:
                    keys.append(key)
    for key, value in planned.by_key.items():
        catalogue.by_key.setdefault(key, value)
    return defaults


def _without_incidental(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_incidental(v) for k, v in value.items() if k not in NESTED_INCIDENTAL}
    return value


def compatible(row: dict[str, str], setting: dict[str, str]) -> bool:
    return all(setting.get(name) == key for name, key in row.items())


def enumerate_settings(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The settings that cover the rows, most rows first.

    A candidate assigns each component one of its values or leaves it out. It is kept when each component
    it assigns is used by at least one row compatible with it (two data sources and two encoder settings
    that never met are not crossed; a progressive-only setting needs no baseline), and when no other
    candidate covers a strict superset of its rows (the baselines alone are not a setting of their own).
    """
    distinct = [dict(t) for t in {tuple(sorted(r.items())) for r in rows}]
    values: dict[str, list[str | None]] = {}
    for row in distinct:
        for name, key in row.items():
            values.setdefault(name, [None])
            if key not in values[name]:
                values[name].append(key)
    names = sorted(values)
    size = 1
    for name in names:
        size *= len(values[name])
    if size > MAX_CANDIDATES:  # too many to cross: each distinct full row is a setting of its own
        candidates = distinct
    else:
        candidates = [
            {n: v for n, v in zip(names, combo, strict=True) if v is not None}
            for combo in itertools.product(*(values[n] for n in names))
        ]
    covers: dict[frozenset[int], dict[str, str]] = {}
    for setting in candidates:
        cover = frozenset(i for i, r in enumerate(distinct) if compatible(r, setting))
        if cover and all(any(name in distinct[i] for i in cover) for name in setting):
            covers.setdefault(cover, setting)
    kept = [s for c, s in covers.items() if not any(c < other for other in covers)]
    count = [sum(compatible(r, s) for r in rows) for s in kept]
    return [kept[i] for i in sorted(range(len(kept)), key=lambda i: -count[i])]


def describe(
    setting: dict[str, str], defaults: dict[str, list[str]], catalogue: Catalogue
) -> tuple[str, ...]:
    """How a setting differs from the profile default, one line per differing component; a component the
    default plan itself has in a second form (a suite trained longer) says so."""
    lines = []
    for name, key in sorted(setting.items()):
        value = catalogue.by_key.get(key, {})
        keys = defaults.get(name, [])
        default = catalogue.by_key.get(keys[0], None) if keys else None
        if name == "loss network":
            lines.append(_loss_network(value))
            if not isinstance(default, dict) or default.get("source") != value.get("source"):
                continue  # another kind of loss network: the line above says all
        if keys and keys[0] == key:
            continue
        planned = " — as the profile plans it for one suite" if key in keys else ""
        if name == "data" and isinstance(value, dict) and value.get("coco_root"):
            lines.append(f"data: real COCO at {value['coco_root']} (profile default: synthetic COCO)")
            continue
        if default is None:
            if name.startswith("data:") and isinstance(value, dict):
                lines.append(
                    f"{name[5:]}: " + ", ".join(f"{k}={v}" for k, v in value.items() if k != "dataset")
                )
            continue
        differences = _differences(value, default)
        diffs = [f"{k}: {v} (default {d})" for k, v, d in differences if ABSENT not in (v, d)]
        older = [k for k, v, _ in differences if v == ABSENT]
        newer = [k for k, _, d in differences if d == ABSENT]
        if older:
            diffs.append(f"stored before {_few(older)} existed")
        if newer:
            diffs.append(f"with {_few(newer)}, no longer in the profile")
        if diffs:
            more = f" (+{len(diffs) - 6} more)" if len(diffs) > 6 else ""
            lines.append(f"{name}: " + "; ".join(diffs[:6]) + more + planned)
    return tuple(dict.fromkeys(lines))


def _loss_network(value: object) -> str:
    if isinstance(value, dict) and value.get("source") == "imagenet":
        return f"loss network: ImageNet AlexNet (digest {str(value.get('digest', '?'))[:12]}), as the paper"
    return "loss network: the substitute trained by the suite, a different setting from the paper's"


def _few(fields: list[str]) -> str:
    return ", ".join(fields[:3]) + (f" and {len(fields) - 3} more fields" if len(fields) > 3 else "")


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _differences(value: object, default: object) -> list[tuple[str, object, object]]:
    a, b = _flatten(value), _flatten(default)
    return [
        (k, a.get(k, "absent"), b.get(k, "absent")) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
    ]
