"""server/config.py: layer precedence, one line per bad value, secrets kept out of errors and repr,
and the CLI's exit code 2 on a bad value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from serverproc import REPO, free_port, server_env
from server.config import ConfigError, Settings, load_settings, validate

SECRET = "super-secret-value-that-must-never-show-0123456789"


def problems_of(**kwargs) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(**kwargs)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "imagepipe.toml"
    path.write_text(text)
    return path


def test_defaults_with_nothing_configured() -> None:
    settings = load_settings(cli={}, environ={})
    assert settings.port == 8080 and settings.data_dir == Path("var") and settings.storage == "local"
    assert settings.mail_mode == "file" and settings.jwt_algorithm == "HS256" and settings.access_token_ttl_s == 900
    assert settings.trust_x_forwarded_for is False


def test_precedence_cli_over_env_over_toml_over_default(tmp_path: Path) -> None:
    path = toml(tmp_path, "[imagepipe]\nport = 7001\nhost = '10.0.0.1'\nlog_level = 'warning'\nbcrypt_rounds = 6\n")
    env = {"IMAGEPIPE_PORT": "7002", "IMAGEPIPE_HOST": "10.0.0.2"}
    settings = load_settings(cli={"port": 7003, "config": str(path)}, environ=env)
    assert settings.port == 7003  # CLI
    assert settings.host == "10.0.0.2"  # environment beats the file
    assert settings.log_level == "warning" and settings.bcrypt_rounds == 6  # file beats the default
    assert settings.workers >= 1  # default
    assert settings.config_file == path


def test_config_file_from_environment_and_top_level_keys(tmp_path: Path) -> None:
    path = toml(tmp_path, "port = 7100\nsmtp_starttls = false\n")
    settings = load_settings(cli={}, environ={"IMAGEPIPE_CONFIG": str(path)})
    assert settings.port == 7100 and settings.smtp_starttls is False


def test_cli_none_values_do_not_override() -> None:
    assert load_settings(cli={"port": None}, environ={"IMAGEPIPE_PORT": "9001"}).port == 9001


@pytest.mark.parametrize("raw, value", [("1", True), ("yes", True), ("ON", True), ("0", False), ("false", False)])
def test_booleans_from_the_environment(raw: str, value: bool) -> None:
    assert load_settings(cli={}, environ={"IMAGEPIPE_TRUST_X_FORWARDED_FOR": raw}).trust_x_forwarded_for is value


def test_one_line_per_bad_value_naming_field_and_source(tmp_path: Path) -> None:
    path = toml(tmp_path, "[imagepipe]\nworkers = 'many'\nnot_a_setting = 1\n")
    problems = problems_of(
        cli={"config": str(path), "colour": "blue"},
        environ={"IMAGEPIPE_PORT": "eighty", "IMAGEPIPE_SMTP_STARTTLS": "maybe", "IMAGEPIPE_UNRELATED_TOOL": "x"},
    )
    assert len(problems) == 5, problems
    joined = "\n".join(problems)
    assert "IMAGEPIPE_PORT: 'eighty' is not valid" in joined and "(from environment)" in joined
    assert "IMAGEPIPE_SMTP_STARTTLS" in joined
    assert "workers: 'many' is not valid" in joined and f"config file {path}" in joined
    assert "not_a_setting: unknown setting" in joined and "colour: unknown setting (from command line)" in joined
    assert "UNRELATED_TOOL" not in joined


def test_range_and_choice_problems_are_all_reported_together() -> None:
    env = {
        "IMAGEPIPE_PORT": "70000", "IMAGEPIPE_STORAGE": "ftp", "IMAGEPIPE_BCRYPT_ROUNDS": "3",
        "IMAGEPIPE_RATE_LIMIT_IP_PER_MIN": "0", "IMAGEPIPE_MAIL_MODE": "smtp",
    }
    problems = problems_of(cli={}, environ=env)
    assert len(problems) == 5, problems
    for needle in ("port:", "storage:", "bcrypt_rounds:", "rate_limit_ip_per_min:", "smtp_host: required"):
        assert sum(p.startswith(needle) for p in problems) == 1, (needle, problems)


def test_missing_or_broken_config_file(tmp_path: Path) -> None:
    assert "does not exist" in problems_of(cli={"config": str(tmp_path / "nope.toml")}, environ={})[0]
    assert "not valid TOML" in problems_of(cli={"config": str(toml(tmp_path, "port = = 1"))}, environ={})[0]


@pytest.mark.parametrize(
    "environ",
    [
        {"IMAGEPIPE_JWT_SECRET": "short-" + SECRET[:10]},  # too short: the value must stay hidden
        {"IMAGEPIPE_DATABASE_URL": "mysql://user:" + SECRET + "@db/x"},
    ],
)
def test_secrets_never_appear_in_errors(environ: dict[str, str]) -> None:
    problems = problems_of(cli={}, environ=environ)
    assert len(problems) == 1
    assert SECRET[:10] not in problems[0] and "hidden" in problems[0]


def test_secret_with_the_wrong_type_in_toml_stays_hidden(tmp_path: Path) -> None:
    path = toml(tmp_path, f"smtp_password = ['{SECRET}']\n")
    [problem] = problems_of(cli={"config": str(path)}, environ={})
    assert SECRET not in problem and "(hidden)" in problem


def test_repr_masks_secrets() -> None:
    settings = load_settings(
        cli={}, environ={"IMAGEPIPE_JWT_SECRET": SECRET, "IMAGEPIPE_SMTP_PASSWORD": SECRET,
                         "IMAGEPIPE_DATABASE_URL": f"postgresql://u:{SECRET}@h/db"},
    )
    assert settings.jwt_secret == SECRET
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert "jwt_secret='***'" in repr(settings) and "port=8080" in repr(settings)


def test_validate_is_pure_and_accepts_the_defaults() -> None:
    assert validate(Settings()) == []
    assert validate(Settings(db_pool_min=5, db_pool_max=2)) == ["db_pool_min: must not exceed db_pool_max"]
    assert validate(Settings(output_formats=("webp",)))[0].startswith("output_formats:")
    assert validate(Settings(public_base_url="ftp://x"))[0].startswith("public_base_url:")


def test_effective_urls() -> None:
    assert Settings(host="0.0.0.0", port=9000).effective_public_base_url == "http://127.0.0.1:9000"
    assert Settings(public_base_url="https://api.example.org/").effective_public_base_url == "https://api.example.org"
    assert Settings(public_base_url="https://a.org").effective_cdn_base_url == "https://a.org/media"


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({"IMAGEPIPE_WORKERS": "lots", "IMAGEPIPE_DB_POOL_MAX": "x"}, ["IMAGEPIPE_WORKERS", "IMAGEPIPE_DB_POOL_MAX"]),
        ({"IMAGEPIPE_JWT_SECRET": "tiny-" + SECRET[:8], "IMAGEPIPE_STORAGE": "ftp"}, ["jwt_secret", "storage"]),
    ],
)
def test_serve_exits_2_with_one_line_per_bad_value_and_no_secret(tmp_path: Path, extra, expected) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "d")],
        cwd=REPO, env=server_env(**extra), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert all(line.startswith("imagepipe: config error: ") for line in lines), lines
    assert len(lines) == len(expected)
    assert all(any(name in line for line in lines) for name in expected), lines
    assert SECRET[:8] not in result.stderr
    assert not (tmp_path / "d").exists(), "nothing started"


def test_serve_exits_2_on_a_bad_cli_port(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--port", "0", "--data-dir", str(tmp_path / "d")],
        cwd=REPO, env=server_env(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "port: 0 is not a TCP port" in result.stderr
