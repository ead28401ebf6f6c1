"""The README's Open Inference Protocol client calls run as written, against a server.

The blocks are taken from the README's "Open Inference Protocol clients" section and run
in a fresh interpreter with ``localhost:8005`` pointed at the test's server (whose
models are trained on other races than the demo's, so the numbers differ; what is held
is that the calls work and print what the README says they print, in kind).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def client_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Open Inference Protocol clients", 1)[1].split("\n### ", 1)[0]
    return BLOCK.findall(section)


def test_the_readme_shows_one_call_of_each_client() -> None:
    blocks = client_blocks()
    assert len(blocks) == 2
    assert "import tritonclient.http" in blocks[0] and "from kserve import" in blocks[1]


def test_the_readme_client_calls_run(live_service: str, tmp_path: Path) -> None:
    triton, kserve = client_blocks()
    printed = []
    for name, code in (("triton", triton), ("kserve", kserve)):
        script = tmp_path / f"readme_{name}_call.py"  # not kserve.py: it would shadow the SDK
        script.write_text(code.replace("localhost:8005", live_service), encoding="utf-8")
        done = subprocess.run([sys.executable, "-W", "ignore", str(script)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        printed.append(done.stdout.splitlines())
    triton_lines, kserve_lines = printed
    assert re.fullmatch(r"\[\s*[\d.]+\s+[\d.]+\s+[\d.]+\s*\]", triton_lines[0])
    assert triton_lines[1] == "[404] no model named 'pitstop'"
    assert re.fullmatch(r"pit_loss_pred_s FP64 \[[\d.]+, [\d.]+\]", kserve_lines[0])
    assert kserve_lines[1] == "fallbacks BYTES ['', '']"
