"""The job contract and the GPU side.

Torch-free modules here (contracts, registry, resolve, client, celery_app, settings) are
importable by the bot; only `inference.worker` and `inference.tiny` import torch.
"""
