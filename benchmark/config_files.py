"""Sacred's other ways of giving a config: `with my.json` / `with my.yaml` (a file of overrides, nested or
dotted), and `print_config` (the profile as the suites will use it, the overridden entries marked)."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

from mike.profiles import ConfigError

CONFIG_SUFFIXES = (".json", ".yaml", ".yml")


def is_config_file(token: str) -> bool:
    return "=" not in token and token.lower().endswith(CONFIG_SUFFIXES)


def overrides_from_file(path: Path) -> dict[str, object]:
    """A file's overrides as dotted keys: {"teacher": {"steps": 10}} and {"teacher.steps": 10} alike."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = _numbers(yaml.safe_load(text))
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError: a one-line error either way
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise ConfigError(f"config file {path} does not parse: {reason}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of keys to values, not {type(data).__name__}"
        )
    return _dotted(data)


def _numbers(value):
    """YAML 1.1 reads `1e-3` as a string; a string that is a Python number literal is that number."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, str):
        try:
            number = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
        return number if isinstance(number, int | float) and not isinstance(number, bool) else value
    return value


def _dotted(data: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_dotted(value, name + "."))
        else:
            flat[name] = value
    return flat


def render_profile(profile, overrides: dict[str, object]) -> str:
    """The profile as YAML (what every run's config is built from), then the overridden entries."""
    import yaml

    config = dataclasses.asdict(profile)
    for documentation in ("reduced", "design"):  # the report prints these; they configure nothing
        config.pop(documentation, None)
    text = yaml.safe_dump(_plain(config), sort_keys=False, width=100)
    if overrides:
        changed = "\n".join(f"#   {key} = {value!r}" for key, value in overrides.items())
        text = f"# profile {profile.name}, overridden:\n{changed}\n{text}"
    else:
        text = f"# profile {profile.name}, as defined (no overrides)\n{text}"
    return text


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
