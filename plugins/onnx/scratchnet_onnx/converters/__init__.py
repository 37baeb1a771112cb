"""The converters scratchnet-onnx registers for scratchnet-std and scratchnet-extras.

Each module holds the converters of one distribution's components; they are registered by
entry point (``scratchnet.onnx_converters``), under every registry name and alias of the
component they convert.
"""
