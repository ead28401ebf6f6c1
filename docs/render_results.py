"""Copy measured results into the README, or check that the README still shows them.

Every figure table in the README sits between two markers naming the file it comes
from, a script's saved output under ``docs/results/``:

    <!-- results: docs/results/evaluation.md -->
    ...
    <!-- /results -->

A Markdown file is copied as it is; any other file goes in a fenced block. Refresh a
file by re-running what made it (the README says which command for each), then run
``python docs/render_results.py`` to copy it in. ``--check`` changes nothing and exits 1
when the README and the files disagree; a test runs it, so a stale table fails CI.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- results: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- /results -->)",
                   re.DOTALL)


def block_body(path: Path) -> str:
    """What the README shows for the results file ``path``."""
    text = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
    return text if path.suffix == ".md" else f"```\n{text}```\n"


def render(readme: str, root: Path = ROOT) -> str:
    """The README with every results block refilled from its file.

    Raises:
        FileNotFoundError: A block names a file that does not exist.
    """
    def fill(match: re.Match[str]) -> str:
        body = block_body(root / match["path"])
        return f"{match[1]}{body}{match[4]}"

    return BLOCK.sub(fill, readme)


def blocks(readme: str) -> list[str]:
    """The results files the README's blocks name, in order."""
    return [m["path"] for m in BLOCK.finditer(readme)]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    if check:
        if wanted != current:
            print("README results are stale: run `python docs/render_results.py`",
                  file=sys.stderr)
            return 1
        print(f"README shows {len(blocks(current))} results files as they are")
        return 0
    README.write_text(wanted, encoding="utf-8")
    print(f"README refilled from {len(blocks(current))} results files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
