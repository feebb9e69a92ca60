"""Sacred's other ways of giving a config: `with my.yaml` / `with my.json`, `print_config`, `--version`."""

import json

import pytest
import yaml

from benchmark.cli_args import parse_with
from mike.profiles import ConfigError, get_profile
from tests.helpers import mike_bench


def test_a_config_file_nested_or_dotted_is_the_same_overrides_as_key_value(tmp_path):
    nested = tmp_path / "nested.yaml"
    nested.write_text(
        yaml.safe_dump({"teacher": {"steps": 7}, "suites": {"three_tasks": ["PHB", "SSS", "CTB"]}})
    )
    dotted = tmp_path / "dotted.json"
    dotted.write_text(json.dumps({"teacher.steps": 7, "suites.three_tasks": ["PHB", "SSS", "CTB"]}))
    by_hand = parse_with(["with", "teacher.steps=7", "suites.three_tasks=['PHB','SSS','CTB']"])
    assert parse_with(["with", str(nested)]) == parse_with(["with", str(dotted)]) == by_hand
    # YAML 1.1 reads 1e-3 as a string: it is a number here, as on the command line
    lr = tmp_path / "lr.yaml"
    lr.write_text("transfer:\n  lr: 1e-3\n")
    assert parse_with(["with", str(lr)]) == {"transfer.lr": 0.001}
    # later tokens win, as in Sacred
    assert parse_with(["with", str(nested), "teacher.steps=9"])["teacher.steps"] == 9
    profile = get_profile("smoke").with_overrides(parse_with(["with", str(nested)]))
    assert profile.teacher.steps == 7 and profile.suites.three_tasks == ("PHB", "SSS", "CTB")


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("missing.yaml", None, "not found"),
        ("bad.json", "[1", "does not parse"),
        ("bad.yaml", "teacher: [1, ", "does not parse"),
        ("list.yaml", "- 1\n- 2\n", "must hold a mapping"),
    ],
)
def test_a_bad_config_file_is_a_one_line_error(tmp_path, name, text, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        parse_with(["with", str(path)])


def test_print_config_and_version_from_the_real_cli(tmp_path):
    (tmp_path / "o.yaml").write_text("teacher:\n  steps: 7\n")
    out = mike_bench("print_config", "--profile", "smoke", "with", "o.yaml", "transfer.steps=9", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(
        "# profile smoke, overridden:\n#   teacher.steps = 7\n#   transfer.steps = 9\n"
    )
    config = yaml.safe_load(out.stdout)
    assert config["teacher"]["steps"] == 7 and config["transfer"]["steps"] == 9 and config["name"] == "smoke"
    typo = mike_bench("print_config", "with", "teachr.steps=3", cwd=tmp_path)
    assert (
        typo.returncode == 2 and typo.stderr.strip() == "mike-bench: error: unknown config key 'teachr.steps'"
    )
    version = mike_bench("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip().startswith("mike-bench 0.")
