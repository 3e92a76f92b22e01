"""Every chapter of the course runs, says what it found, and draws its figure."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

COURSE = Path(__file__).resolve().parent.parent / "course"
CHAPTERS = sorted(COURSE.glob("0*.py"))


def test_the_course_has_its_seven_chapters():
    assert [p.name[:2] for p in CHAPTERS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_and_draws_its_figure(chapter, tmp_path):
    result = subprocess.run([sys.executable, str(chapter), "--out", str(tmp_path)], capture_output=True, text=True,
                            timeout=300, cwd=COURSE)
    assert result.returncode == 0, result.stderr
    assert re.search(rf"chapter {int(chapter.name[:2])} done", result.stdout), result.stdout
    figures = list(tmp_path.glob("*.png"))
    assert figures and all(f.stat().st_size > 5000 for f in figures)
    assert "Exercises" in chapter.read_text()


def test_chapters_reach_what_they_claim(tmp_path):
    run = {p.name[:2]: subprocess.run([sys.executable, str(p), "--out", str(tmp_path)], capture_output=True,
                                      text=True, timeout=300, cwd=COURSE).stdout
           for p in CHAPTERS if p.name[:2] in ("02", "06")}
    accuracy = int(re.search(r"training accuracy (\d+)%", run["02"]).group(1))
    difference = float(re.search(r"engine weights differ by ([\d.e+-]+)", run["02"]).group(1))
    assert accuracy >= 95 and difference < 1e-9
    assert "equals enhance.equalize_hist: True" in run["06"]
