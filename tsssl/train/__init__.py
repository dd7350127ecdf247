"""The one Trainer for every method: devices, precision, schedules, momentum updates,
checkpoints / resume, interruption (SIGINT / SIGTERM), logging and distributed data parallel
(see ``Trainer``)."""

from tsssl.train.checkpoint import CheckpointError, CheckpointNotFoundError, load_checkpoint, save_checkpoint
from tsssl.train.trainer import Trainer, TrainingDivergedError, TrainingInterrupted, TrainResult, total_steps

__all__ = [
    "Trainer",
    "TrainResult",
    "TrainingDivergedError",
    "TrainingInterrupted",
    "CheckpointError",
    "CheckpointNotFoundError",
    "load_checkpoint",
    "save_checkpoint",
    "total_steps",
]
