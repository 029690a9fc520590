"""Training, export and Keras import of the window classifier (imports TensorFlow lazily).

Nothing here is used by detection: the worker only loads the exported LiteRT model.
"""

from anemonefish.training.dataset import DEFAULT_CLASSES, DatasetSpec
from anemonefish.training.train import TrainSpec, train_synthetic

__all__ = ["DEFAULT_CLASSES", "DatasetSpec", "TrainSpec", "train_synthetic", "import_keras_model"]


def __getattr__(name: str):  # lazy: the importer pulls in TensorFlow
    if name == "import_keras_model":
        from anemonefish.training.importer import import_keras_model

        return import_keras_model
    raise AttributeError(name)
