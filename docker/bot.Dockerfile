# The bot, the migrate step and the web gallery: no torch, no diffusers (a small image).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY . /app
# Core dependencies plus boto3 for S3/MinIO storage; the [worker] extra (torch) is left out.
RUN pip install '.[s3]' \
    && useradd --system --uid 1000 --home-dir /data nanke \
    && mkdir -p /data && chown nanke /data
USER nanke
VOLUME ["/data"]
CMD ["nanke", "bot"]
