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


@pytest.mark.parametrize("chapter", range(1, 8))
def test_every_exercise_check_passes_the_worked_answers_and_not_the_blank_ones(chapter):
    import subprocess
    import sys

    check = [sys.executable, str(COURSE / "check.py"), str(chapter)]
    solved = subprocess.run(check + ["--answers", str(COURSE / "solutions")], capture_output=True, text=True)
    assert solved.returncode == 0 and "passed" in solved.stdout and "wrong" not in solved.stdout, solved.stdout + solved.stderr
    blank = subprocess.run(check, capture_output=True, text=True)
    assert blank.returncode == 1 and blank.stdout.count("not done yet") >= 1, blank.stdout + blank.stderr
    assert "0 of" in blank.stdout


def test_the_checks_catch_a_wrong_answer(tmp_path):
    import shutil
    import subprocess
    import sys

    shutil.copy(COURSE / "solutions" / "chapter3.py", tmp_path / "chapter3.py")
    text = (tmp_path / "chapter3.py").read_text().replace("padded[:, :, i:i + h, j:j + w] +=", "padded[:, :, i:i + h, j:j + w] =")
    (tmp_path / "chapter3.py").write_text(text)                          # col2im that overwrites instead of adding
    result = subprocess.run([sys.executable, str(COURSE / "check.py"), "3", "--answers", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "exercise 2 (col2im, the adjoint): wrong" in result.stdout, result.stdout
