"""Distributed training and evaluation of zoo models (ImageNet and CIFAR recipes); no OpenMMLab."""
from .config import ConfigError, TrainConfig, apply_overrides, load_train_config
from .trainer import AuxForward, build_model, evaluate, train

__all__ = ['TrainConfig', 'ConfigError', 'load_train_config', 'apply_overrides', 'train', 'evaluate',
           'AuxForward', 'build_model']
