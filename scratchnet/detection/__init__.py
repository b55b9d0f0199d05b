"""Training, evaluation and the command line for the detectors of
scratchnet.models.detection: `engine` (batches, the training loop, mAP@0.5, checkpoints,
pictures), `recipes` (the registry of detectors), `cli` (`scratchnet detect ...`), and one
recipe module per detector."""
