"""What every chapter shares: where its figures go, and saving one."""
import argparse
import tempfile
from pathlib import Path


def figure_folder(description: str) -> Path:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "course"),
                        help="folder for the chapter's figures (default: course/ in the temporary folder)")
    folder = Path(parser.parse_args().out)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(figure, folder: Path, name: str) -> None:
    path = folder / name
    figure.savefig(path, dpi=80)
    print(f"figure: {path}")
