# syntax=docker/dockerfile:1
# The local stack (API handler behind an HTTP front, worker and DLQ consumer as SQS pollers,
# the sweeper) for docker compose: the same handler code as the Lambdas, against the
# resources the Terraform `local` environment created on the moto container.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OPENBLAS_NUM_THREADS=1 \
    POWERTOOLS_LOG_LEVEL=WARNING

RUN apt-get update \
    && apt-get install -y --no-install-recommends libsndfile1 \
    && rm -rf /var/lib/apt/lists/*

COPY docker/requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

COPY pyproject.toml README.md LICENSE /src/
COPY shared /src/shared
COPY services /src/services
COPY docker/local_stack.py /usr/local/bin/anemonefish-local-stack
RUN pip install --no-deps /src

ENTRYPOINT ["python", "/usr/local/bin/anemonefish-local-stack"]
