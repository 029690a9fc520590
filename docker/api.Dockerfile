# syntax=docker/dockerfile:1
# The API Lambda (also runs the upload sweeper with another CMD). It imports the library's
# formats and parameter models, so it installs the same runtime requirements as the worker;
# of the served model it keeps only the card, whose classes POST /jobs checks
# params.target_class against (the networks are the worker's).
# Build from the repository root:  docker build -f docker/api.Dockerfile -t anemonefish-api .
FROM public.ecr.aws/lambda/python:3.11

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY docker/requirements.lock /tmp/requirements.lock
# Every package pinned with its wheel's hash (requirements.lock, made from requirements.txt by
# make image-lock), so two builds of one release install the same bytes. Binary wheels only:
# the base image has no compiler, and a wheel that needs a newer glibc than Amazon Linux 2's
# must fail the build, not the first invocation.
RUN pip install --only-binary=:all: --require-hashes --no-deps --target "${LAMBDA_TASK_ROOT}" \
    -r /tmp/requirements.lock

COPY pyproject.toml README.md LICENSE /tmp/src/
COPY shared /tmp/src/shared
COPY services /tmp/src/services
RUN pip install --target "${LAMBDA_TASK_ROOT}" --no-deps /tmp/src \
    && rm -rf /tmp/src \
    && rm -rf "${LAMBDA_TASK_ROOT}/anemonefish/models"

# The card of the model the worker serves (the same MODEL_BUNDLE as the worker's build).
ARG MODEL_BUNDLE=shared/anemonefish/models/default
COPY ${MODEL_BUNDLE}/card.json /opt/anemonefish-model/card.json
ENV ANEMONEFISH_MODEL_DIR=/opt/anemonefish-model

CMD ["anemonefish_services.api.handler.lambda_handler"]
