# The bot, the migrate step and the web gallery: no torch, no diffusers (a small image).
#
# BASE_IMAGE: a Debian-based image with python3 (3.11+) and pip. The default is the official
# image; docker/smoke.sh passes one built from Debian's packages (its CI has no Docker Hub).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
COPY . /src
# Core dependencies plus boto3 for S3/MinIO storage; the [worker] extra (torch) is left out.
# PIP_BREAK_SYSTEM_PACKAGES: Debian's own python3 refuses system-wide installs (PEP 668); the
# official image ignores it. One user, uid 1000, in both images: the shared volumes
# (/data/images) are created owned by it, from the directories made here.
RUN PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install '/src[s3]' \
    && rm -rf /src \
    && useradd --uid 1000 --user-group --create-home --home-dir /home/nanke nanke \
    && mkdir -p /data/images /models \
    && chown -R nanke:nanke /data
WORKDIR /data
USER nanke
CMD ["nanke", "bot"]
