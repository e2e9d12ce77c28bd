"""The metadata lives in pyproject.toml. This file adds one build step: the repository's configs/ and
transfer/ (their only copies) go into the package as relnas_zoo/_data/, so an installed wheel finds the
search, training and transfer configs by name (relnas_zoo.config_files)."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = {'configs': ('*.yaml',), 'transfer': ('*.py',)}


class BuildPyWithConfigs(build_py):
    def run(self) -> None:
        super().run()
        for folder, patterns in SHIPPED.items():
            for pattern in patterns:
                for src in (HERE / folder).rglob(pattern):
                    dst = Path(self.build_lib) / 'relnas_zoo' / '_data' / src.relative_to(HERE)
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dst)


setup(cmdclass={'build_py': BuildPyWithConfigs})
