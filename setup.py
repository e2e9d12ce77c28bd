"""The metadata lives in pyproject.toml; this file lets tools that still call setup.py build the package."""
from setuptools import setup

setup()
