"""The one Trainer for every method: devices, precision, schedules, momentum updates,
checkpoints / resume, logging and distributed data parallel (see ``Trainer``)."""

from tsssl.train.checkpoint import CheckpointNotFoundError, load_checkpoint, save_checkpoint
from tsssl.train.trainer import Trainer, TrainingDivergedError, TrainResult, total_steps

__all__ = [
    "Trainer",
    "TrainResult",
    "TrainingDivergedError",
    "CheckpointNotFoundError",
    "load_checkpoint",
    "save_checkpoint",
    "total_steps",
]
