"""The README's quick start is run as written, with bash and curl, against a real ``serve`` process,
and its example post JSON has exactly the fields the server sends."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pyvips
import pytest

from conftest import corpus_file
from serverproc import REPO, ServerProcess, free_port, server_env

pytestmark = pytest.mark.fault  # starts a real server


def readme_block(name: str) -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- {name}:begin -->\n```\w+\n(.*?)```\n<!-- {name}:end -->", text, re.DOTALL)
    assert match, f"README has no {name} block"
    return match.group(1)


def shape(value: object) -> object:
    """Keys all the way down (lists by their first item): what a client relies on."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__ if value is not None else "null"


def test_readme_quick_start_runs_against_a_real_server(tmp_path: Path) -> None:
    for tool in ("bash", "curl", "sha256sum"):
        assert shutil.which(tool), f"the quick start needs {tool}"
    photo = corpus_file("phone-3264x2448.jpg")
    script = readme_block("quickstart")
    server = ServerProcess(tmp_path / "data", free_port(), server_env(IMAGEPIPE_WORKERS="1")).start()
    try:
        work = tmp_path / "client"
        work.mkdir()
        env = {**server_env(), "API": server.base_url, "OUTBOX": str(server.data_dir / "outbox"), "PHOTO": str(photo)}
        # -e and pipefail: any failed step fails the test (the README leaves them out: it is
        # pasted into interactive shells).
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work, env=env,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{server.log_text()}"
    finally:
        assert server.terminate() == 0, server.log_text()

    post = next(json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"id"') and '"status"' in line)
    assert post["status"] == "published" and post["caption"] == "First light"
    for variant, side in (("thumbnail", 150), ("medium", 600), ("original", 3264)):
        image = pyvips.Image.new_from_file(str(work / f"{variant}.jpg"))
        assert max(image.width, image.height) == side and image.get("vips-loader") == "jpegload"
        assert f"{variant}.jpg: {post['variants'][variant]['bytes']} bytes" in done.stdout
    example = json.loads(readme_block("post-example"))
    assert shape(example) == shape(post), "the README's example post has other fields than the server sends"
