"""The engine: what turns a job's recipe into images.

Torch-free modules (registry, resolve, samplers, infotext, prompt_weights, png, errors) are
importable by the bot and the CLI; only `inference.worker` and the test-model builders
(`inference.tiny*`) import torch and diffusers.
"""
