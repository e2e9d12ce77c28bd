"""Datasets and batching; knows no search or training algorithm."""
from .cifar import DatasetError, ImageArrays, load_cifar, load_digits, split_indices
from .lmdb import BuildError, ImageNetLMDB, LMDBError, build_lmdb, verify_lmdb
from .tensor_batches import TensorBatches

__all__ = ['DatasetError', 'ImageArrays', 'load_cifar', 'load_digits', 'split_indices', 'TensorBatches',
           'ImageNetLMDB', 'build_lmdb', 'verify_lmdb', 'LMDBError', 'BuildError']
