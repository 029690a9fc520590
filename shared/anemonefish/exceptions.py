"""Every error the library raises, in one flat module.

Errors that a job can fail with carry a stable machine-readable ``code``; the worker
writes that code into the job record and never retries an :class:`AudioError`.
"""

from __future__ import annotations


class AnemonefishError(Exception):
    """Base class of every error raised by the library."""

    code: str = "error"


class AudioError(AnemonefishError):
    """The recording itself cannot be analysed: a permanent failure, never retried."""

    code = "audio_error"


class EmptyAudioError(AudioError):
    """The file has no bytes or no samples."""

    code = "empty_audio"


class CorruptAudioError(AudioError):
    """The file claims to be audio but cannot be decoded."""

    code = "corrupt_audio"


class UnsupportedAudioError(AudioError):
    """The file is not in an audio format the decoder reads."""

    code = "unsupported_audio"


class AudioTooShortError(AudioError):
    """The recording is shorter than one analysis window."""

    code = "audio_too_short"


class InvalidChannelError(AudioError):
    """The requested channel does not exist in the recording."""

    code = "invalid_channel"


class ModelBundleError(AnemonefishError):
    """A model bundle is missing a file, or its card is inconsistent with the model."""

    code = "model_bundle_error"


class BundleTargetError(ModelBundleError):
    """A new bundle cannot be written where asked: the folder holds other files, is a
    bundle that was not to be replaced, or cannot be created."""

    code = "bundle_target_error"


class AnnotationFormatError(AnemonefishError):
    """An annotation table (Raven, Audacity, CSV) cannot be parsed."""

    code = "annotation_format_error"


class DetectionCancelled(AnemonefishError):
    """The caller asked to stop (for example, the job was cancelled) between blocks."""

    code = "cancelled"


class TrainingError(AnemonefishError):
    """Training produced a model that has not learned (say so instead of writing it)."""

    code = "training_error"
