"""Find anemonefish (clownfish) calls in long underwater recordings.

The library streams audio of any length through one feature front end and a small CNN,
and turns the per-window scores into timestamped events. It never imports AWS clients
or TensorFlow on the detection path (training lives in ``anemonefish.training``).
"""

__version__ = "0.1.0"
