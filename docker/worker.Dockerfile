# A GPU worker: CUDA torch + diffusers. Run one container per GPU (docs/deploy.md).
#
# BASE_IMAGE: a Debian-based image with python3 (3.11+) and pip. The default is the official
# image; docker/smoke.sh passes one built from Debian's packages with the CPU torch wheel
# already installed (its CI has no Docker Hub and no GPU).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    HF_HOME=/cache/huggingface
# torch first and exactly pinned, in its own layer (it changes far less often than the code).
# From PyPI the Linux x86_64 wheel is the CUDA build and brings its CUDA libraries as nvidia-*
# wheels, so no CUDA base image is needed: the NVIDIA Container Toolkit on the host provides
# the driver. PIP_BREAK_SYSTEM_PACKAGES: see bot.Dockerfile.
RUN PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install torch==2.13.0
COPY . /src
# /data/images is the shared image volume, /cache/huggingface the model cache volume (HF_HOME):
# made here owned by the container user, so the named volumes start out writable by it.
RUN PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install '/src[worker,s3]' \
    && rm -rf /src \
    && useradd --uid 1000 --user-group --create-home --home-dir /home/nanke nanke \
    && mkdir -p /data/images /models /cache/huggingface \
    && chown -R nanke:nanke /data /cache
WORKDIR /data
USER nanke
# The models directory (models.toml + weights) is mounted read-only at /models.
CMD ["nanke", "worker"]
