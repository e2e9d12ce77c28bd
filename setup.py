"""The metadata lives in pyproject.toml. This file adds one build step: the repository's configs/,
transfer/ and OpenMMLab tool scripts (their only copies) go into the package's .mim folder, OpenMMLab's
convention for configs and tools inside an installed package, so a wheel finds the search, training and
transfer configs by name (relnas_zoo.config_files) and OpenMMLab's tools find the transfer configs."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# repository folder: (file patterns, folder inside relnas_zoo/.mim)
SHIPPED = {'configs': (('*.yaml',), 'configs'), 'transfer': (('*.py',), 'configs/transfer'),
           'tools': (('train.py', 'test.py', 'dist_train.sh', 'dist_test.sh', 'dist_common.sh', 'install_mm.sh'),
                     'tools')}


class BuildPyWithConfigs(build_py):
    def run(self) -> None:
        super().run()
        for folder, (patterns, target) in SHIPPED.items():
            for pattern in patterns:
                for src in (HERE / folder).rglob(pattern):
                    dst = Path(self.build_lib) / 'relnas_zoo' / '.mim' / target / src.relative_to(HERE / folder)
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dst)


setup(cmdclass={'build_py': BuildPyWithConfigs})
