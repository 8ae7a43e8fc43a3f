"""`animeinterp benchmark` through Typer: output streams, JSON file, option checks, bad input."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from animeinterp_cli.benchmark.command import benchmark
from animeinterp_cli.errors import InputError, OutputError
from tests.benchmark.atd import annotation, write_annotation, write_triplet

app = typer.Typer()
app.command()(benchmark)
runner = CliRunner()
CPU = ["--device", "cpu", "--precision", "fp32"]


@pytest.fixture
def atd(tmp_path):
    for name, error in (("one", 2), ("two", 5)):
        write_triplet(tmp_path / "test_2k_540p" / name, error=error)
        write_annotation(tmp_path, name, annotation(level=1))
    return tmp_path


def test_json_to_stdout_is_the_only_thing_on_stdout(atd):
    result = runner.invoke(app, [str(atd), "-m", "blend", "--json", "-", *CPU])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["method"], document["count"], document["protocol"]) == ("blend", 2, "paper")
    assert "PSNR" in result.stderr and "PSNR" not in result.stdout.split("{", 1)[0]


def test_methods_repeated_or_comma_separated_come_in_order(atd):
    result = runner.invoke(
        app, [str(atd), "-m", "blend,minterpolate", "-m", "blend", "--protocol", "standard", "--json", "-", *CPU]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["protocol"] == "standard"
    assert [document["method"]] + [p["method"] for p in document["peers"]] == ["blend", "minterpolate"]


def test_json_file_is_written_and_not_overwritten_without_overwrite(atd):
    target = atd / "scores.json"
    assert runner.invoke(app, [str(atd), "-m", "blend", "--json", str(target), "--quiet", *CPU]).exit_code == 0
    assert json.loads(target.read_text())["count"] == 2
    again = runner.invoke(app, [str(atd), "-m", "blend", "--json", str(target), *CPU])
    assert isinstance(again.exception, OutputError) and "--overwrite" in str(again.exception)
    assert runner.invoke(app, [str(atd), "-m", "blend", "--json", str(target), "--overwrite", *CPU]).exit_code == 0


def test_quiet_prints_no_table(atd):
    result = runner.invoke(app, [str(atd), "-m", "blend", "--quiet", *CPU])
    assert result.exit_code == 0 and "PSNR" not in result.output


def test_a_bad_triplet_stops_unless_skipped(atd):
    (atd / "test_2k_540p" / "two" / "frame3.png").write_bytes(b"")
    failed = runner.invoke(app, [str(atd), "-m", "blend", *CPU])
    assert isinstance(failed.exception, InputError) and "triplet two" in str(failed.exception)
    skipped = runner.invoke(app, [str(atd), "-m", "blend", "--skip-bad", "--json", "-", *CPU])
    assert skipped.exit_code == 0, skipped.output
    document = json.loads(skipped.stdout)
    assert (document["count"], document["skipped"]) == (1, 1)
    assert document["skipped_triplets"][0]["name"] == "two"


def test_a_run_where_every_triplet_is_bad_is_an_error(tmp_path):
    write_triplet(tmp_path / "lonely")
    (tmp_path / "lonely" / "frame1.png").unlink()
    result = runner.invoke(app, [str(tmp_path), "-m", "blend", "--skip-bad", *CPU])
    assert isinstance(result.exception, InputError) and "1 skipped" in str(result.exception)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-m", "dain"], "'dain' is not one of"),
        (["--protocol", "y"], "'y' is not one of"),
        (["--sgm", "later"], "'later' is not one of"),
        (["--device", "tpu"], "'tpu' is not one of"),
        (["--limit", "0"], "greater than or equal to 1"),
    ],
)
def test_bad_options_are_usage_errors(atd, arguments, message):
    result = runner.invoke(app, [str(atd), *arguments])
    assert result.exit_code == 2 and message in result.output


def test_an_empty_folder_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, [str(tmp_path), "-m", "blend", *CPU])
    assert isinstance(result.exception, InputError) and "no triplets found" in str(result.exception)


def test_precomputed_sgm_without_flows_is_an_error_before_any_work(atd):
    result = runner.invoke(app, [str(atd), "-m", "blend", "--sgm", "precomputed", *CPU])
    assert isinstance(result.exception, InputError) and "test_2k_pre_calc_sgm_flows" in str(result.exception)


def test_no_annotations_is_a_note_not_an_error(tmp_path):
    write_triplet(tmp_path / "plain", error=1)
    result = runner.invoke(app, [str(tmp_path), "-m", "blend", *CPU])
    assert result.exit_code == 0 and "no annotations found" in result.stderr
