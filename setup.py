"""relnas_zoo: RelativeNAS as a timm model zoo and OpenMMLab backbone, with its search and tools."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name='relnas_zoo',
    version='0.1.0',
    description='RelativeNAS (slow-fast NAS) models for timm and OpenMMLab, the search, and training tools',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['relnas_zoo', 'relnas_zoo.*']),
    # the predictor's cached NAS-Bench-201 cell scores and NASLib's benchmark subsets (with their licence)
    package_data={'relnas_zoo.predictor': ['data/*.npz', 'data/naslib/*.json', 'data/naslib/*.txt',
                                           'data/naslib/*.md']},
    install_requires=[
        # Tested with torch 2.14.1 / torchvision 0.29.1 (the Makefile installs exactly those).
        'torch>=2.4',
        'torchvision>=0.19',
        'timm>=1.0.29,<1.1',      # device=/dtype= factory arguments (create_classifier, get_device_dtype)
        'numpy>=1.24',
        'tqdm>=4.60',
        'pyyaml>=6.0',
        'lmdb>=1.4',
        'pillow>=9.0',
    ],
    extras_require={
        'plot': ['matplotlib>=3.7'],
        # the demo search runs on scikit-learn's digits, which ship inside the package
        'demo': ['scikit-learn>=1.3', 'matplotlib>=3.7'],
        'dev': [
            'pytest>=8',
            'pytest-timeout>=2.3',
            'hypothesis>=6.100',
            'matplotlib>=3.7',
            'onnx>=1.16',
            'onnxscript>=0.2',
            'onnxruntime>=1.18',
            'pretrainedmodels>=0.7.4',
            'scikit-learn>=1.3',
            'scipy>=1.10',
            'analog-nasbench==0.1.3',
        ],
        # relnas-zoo predictor: Kendall tau (scipy) and the full NAS-Bench-201 table of analog-nasbench
        # (read with a restricted unpickler; the package itself is never imported)
        'nasbench': ['scipy>=1.10', 'analog-nasbench==0.1.3'],
        # tools/validate.py --recover-class-order and the ImageNet devkit's meta.mat need scipy
        'tools': ['scipy>=1.10'],
        # relnas-zoo export: ONNX export checked in ONNX Runtime
        'deploy': ['onnx>=1.16', 'onnxscript>=0.2', 'onnxruntime>=1.18'],
        # transfer/comparison: NASNet-A Mobile from Cadene's package, the implementation the authors used
        'comparison': ['pretrainedmodels>=0.7.4'],
        # 'mm': the OpenMMLab stack (mmengine/mmcv/mmdet/mmseg/mmpose); see the transfer issue.
    },
    entry_points={'console_scripts': ['relnas-zoo=relnas_zoo.cli:main']},
)
