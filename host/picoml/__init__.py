"""picoml host tools: convert int8 TFLite models to the .pml format, inspect and run them."""
__version__ = "0.1.0"
