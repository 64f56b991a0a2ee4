# A GPU worker: CUDA torch + diffusers. Run one container per GPU (docs/pipeline.md).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# torch first and exactly pinned. From PyPI the Linux x86_64 wheel is the CUDA build and
# brings its CUDA libraries as nvidia-* wheels, so no CUDA base image is needed: the
# NVIDIA container toolkit on the host provides the driver.
RUN pip install torch==2.13.0
COPY . /app
RUN pip install '.[worker,s3]' \
    && useradd --system --uid 1000 --home-dir /data nanke \
    && mkdir -p /data && chown nanke /data
USER nanke
VOLUME ["/data"]
# The models directory (models.toml + weights) is mounted read-only at /models.
CMD ["nanke", "worker"]
