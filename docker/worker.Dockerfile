# syntax=docker/dockerfile:1
# The detection worker Lambda: light inference runtime (LiteRT, no TensorFlow) and the model
# bundle it serves (MODEL_BUNDLE, below: the shipped one unless the build names another).
# Build from the repository root:  docker build -f docker/worker.Dockerfile -t anemonefish-worker .
FROM public.ecr.aws/lambda/python:3.11

# BLAS threads would compete with the inference runtime for the function's vCPUs.
ENV OPENBLAS_NUM_THREADS=1 \
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY docker/requirements.lock /tmp/requirements.lock
# Every package pinned with its wheel's hash (requirements.lock, made from requirements.txt by
# make image-lock), so two builds of one release install the same bytes. Binary wheels only:
# the base image has no compiler, and a wheel that needs a newer glibc than Amazon Linux 2's
# must fail the build, not the first invocation.
RUN pip install --only-binary=:all: --require-hashes --no-deps --target "${LAMBDA_TASK_ROOT}" \
    -r /tmp/requirements.lock

# The package; its dependencies are already there.
COPY pyproject.toml README.md LICENSE /tmp/src/
COPY shared /tmp/src/shared
COPY services /tmp/src/services
# The package's own copy of the shipped bundle goes: the served one is copied below.
RUN pip install --target "${LAMBDA_TASK_ROOT}" --no-deps /tmp/src && rm -rf /tmp/src \
    && rm -rf "${LAMBDA_TASK_ROOT}/anemonefish/models"

# The model the worker serves: the shipped bundle, or another folder of the build context
# (a site's fine-tuned bundle):  --build-arg MODEL_BUNDLE=models/my-reef  (the API image
# takes the same argument, for its card).
ARG MODEL_BUNDLE=shared/anemonefish/models/default
COPY ${MODEL_BUNDLE} /opt/anemonefish-model
ENV ANEMONEFISH_MODEL_DIR=/opt/anemonefish-model

CMD ["anemonefish_services.worker.handler.lambda_handler"]
