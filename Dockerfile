# sfd-unlearn: one image for the API (`sfd serve`) and the workers (`sfd worker`).
#
# CPU (default):
#   docker build -t sfd-unlearn .
# CUDA (GPU workers):
#   docker build -t sfd-unlearn:cuda \
#     --build-arg BASE_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 \
#     --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126 .
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/sfd \
    PATH=/opt/sfd/bin:$PATH \
    SFD_HOME=/data

# The CUDA base images have no Python; the python images have no need for apt.
RUN if ! command -v python3 >/dev/null 2>&1; then \
      apt-get update \
      && apt-get install -y --no-install-recommends python3 python3-venv \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv "$VIRTUAL_ENV"

# torch first, from the index that matches the base image (a plain PyPI torch would pull the
# CUDA build into the CPU image); this layer stays cached while the project changes.
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY sfd_core ./sfd_core
COPY domain ./domain
COPY api ./api
COPY worker ./worker
COPY cli ./cli
COPY migrations ./migrations
RUN pip install . && rm -rf /src/build

RUN useradd --system --create-home --home-dir /home/sfd sfd \
    && mkdir -p /data && chown sfd /data
USER sfd
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

CMD ["sfd", "serve", "--host", "0.0.0.0", "--port", "8000"]
